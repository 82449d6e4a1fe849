"""What the flows' metrics cost the enrich flow: its per-record work (``route`` and the shards, as in
``enrich_core_bench.py``) with the OpenTelemetry instruments on (``PERSONA_METRICS=on``: a meter, the
Prometheus exporter's registry, scraped every 5 s as Prometheus would) and off, alternating in fresh
child processes within one run, so both see the same machine.

    uv run python bench/metrics_overhead_bench.py [--customers 20000] [--events 80000] [--repeat 4]

Enrich is CPU-bound on one thread, so decisions per CPU second of this loop is its throughput ceiling
(CPU time, not wall time: on a shared machine wall time measures the neighbours too); the ratio on/off
is what the metrics cost it (the budget: at most ~3%). Also run by ``persona bench
--metrics-overhead``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from enrich_core_bench import child_rate, seeded_input
from prometheus_client import CollectorRegistry, generate_latest

from persona.flows.common.metrics import FlowMetrics
from persona.flows.common.observability import meter_provider
from persona.flows.common.process import prepare_flow_process
from persona.flows.enrich import CustomerShard, route
from persona.flows.enrich.instrumentation import EnrichMetrics

SCRAPE_SECONDS = 5.0


def run_once(customers: int, events: int, mode: str) -> float:
    settings, ctx, batches = seeded_input(customers, events, customers // 10)
    registry = CollectorRegistry(auto_describe=False)
    meter = meter_provider(registry).get_meter("persona.enrich") if mode == "on" else None
    metrics = FlowMetrics("enrich", meter)
    ctx.instruments = EnrichMetrics(metrics)
    prepare_flow_process()
    shards: dict[str, CustomerShard] = {}
    rt_topic = settings.topics.marketing_segments_rt
    decided = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    scraped = started
    for batch in batches:
        for key, items in route(settings, batch, metrics):
            shard = shards.get(key)
            if shard is None:
                shard = shards[key] = CustomerShard(ctx, None)
            out, _ = shard.on_batch([items])
            decided += sum(1 for o in out for record in o if record[0] == rt_topic)
        if meter is not None and time.perf_counter() - scraped >= SCRAPE_SECONDS:
            generate_latest(registry)
            scraped = time.perf_counter()
    if meter is not None:
        exposition = generate_latest(registry).decode()
        assert "persona_segment_freshness_seconds_bucket" in exposition, "no freshness recorded"
    # Per CPU second of this process: on a machine shared with other work, wall time measures the
    # other work too; CPU time is what the metrics add to enrich's own.
    return decided / (time.process_time() - cpu_started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=80_000)
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--child", choices=["on", "off"])
    args = parser.parse_args()
    if args.child:
        print(run_once(args.customers, args.events, args.child))
        return
    rates: dict[str, list[float]] = {"on": [], "off": []}
    ratios: list[float] = []
    for round_ in range(args.repeat):
        # Alternate which goes first, so a drift of the machine's load favours neither.
        order = ("on", "off") if round_ % 2 == 0 else ("off", "on")
        got: dict[str, float] = {}
        for mode in order:
            got[mode] = child_rate(__file__, mode, args.customers, args.events)
            rates[mode].append(got[mode])
        ratios.append(got["on"] / got["off"])
        print(
            f"round {round_ + 1}: on {got['on']:,.0f}, off {got['off']:,.0f} decisions per CPU s, ratio {ratios[-1]:.3f}",
            flush=True,
        )
    best_on, best_off = max(rates["on"]), max(rates["off"])
    print(f"enrich core, {args.customers:,} customers, {args.events:,} records, {args.repeat} rounds:")
    print("| metrics | best decisions per CPU s | median |")
    print("|---|---:|---:|")
    for mode in ("on", "off"):
        print(f"| {mode} | {max(rates[mode]):,.0f} | {statistics.median(rates[mode]):,.0f} |")
    print(
        f"on/off: best {best_on / best_off:.3f}, median of the rounds' ratios {statistics.median(ratios):.3f} "
        f"(min {min(ratios):.3f}, max {max(ratios):.3f})"
    )


if __name__ == "__main__":
    main()
