"""persona.benchkit: the sustained-throughput and freshness benchmark behind `persona bench`."""
