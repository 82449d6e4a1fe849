"""A bench run's series as the stack's Prometheus holds them: the PromQL over this run's flow
processes, and Prometheus's matrices turned into the report's series. Pure: ``prom_reader`` queries.

The queries are those production watches (the alerts' and the console's shapes: quantiles of the
freshness histogram's rate, ``persona_consumer_lag``, the counters' rates), each scoped to this run:
its flows' scrape targets carry the label ``bench_run=<tag>`` and their ``instance`` addresses. The
time span alone would not do: the flows of every run listen on the same ports, and a restarted
Prometheus shows a previous run's last samples for five minutes (no stale markers survive a restart).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

RUN_LABEL = "bench_run"
"""The scrape label naming the run whose flow process a series came from."""

QUANTILES = (0.5, 0.99)
SINKS = ("rt", "paimon")


@dataclass(frozen=True)
class RunTargets:
    """The scrape targets of one run's flow processes: the run's tag and each flow's instances."""

    run: str
    instances: Mapping[str, tuple[str, ...]]

    def selector(self, **matchers: str) -> str:
        """The label matchers of this run's series (and ``matchers``, each an equality)."""
        addresses = sorted(i for found in self.instances.values() for i in found)
        pattern = "|".join(re.escape(a) for a in addresses)
        parts = [f"{RUN_LABEL}={_quoted(self.run)}", f"instance=~{_quoted(pattern)}"]
        parts += [f"{name}={_quoted(value)}" for name, value in matchers.items()]
        return "{" + ",".join(parts) + "}"

    def to_json(self) -> dict[str, Any]:
        return {"labels": {RUN_LABEL: self.run}, "instances": {k: list(v) for k, v in self.instances.items()}}


def _quoted(text: str) -> str:
    """A PromQL double-quoted string (its escapes are Go's: backslash and quote)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def freshness_quantile(targets: RunTargets, sink: str, quantile: float, window: str) -> str:
    """The ``quantile`` of decision freshness at ``sink`` over ``window`` (a PromQL duration) of
    histogram samples, all of the run's processes together (as the Paimon freshness alert reads it)."""
    buckets = f"persona_segment_freshness_seconds_bucket{targets.selector(sink=sink)}"
    return f"histogram_quantile({quantile:g}, sum by (le) (rate({buckets}[{window}])))"


def range_queries(targets: RunTargets, rate_window_s: float) -> dict[str, str]:
    """The timeline's series by name: freshness quantiles per sink (``<sink>_p<q>_s``), each flow's
    consumer lag, records read per second by each flow, decisions per second, CPU (% of one core) and
    RSS (MiB) per flow. ``rate_window_s``: the window each rate and quantile looks back over."""
    window = f"{rate_window_s:g}s"
    run = targets.selector()
    queries = {
        f"{sink}_p{round(q * 100)}_s": freshness_quantile(targets, sink, q, window)
        for sink in SINKS
        for q in QUANTILES
    }
    queries["lag_records"] = f"sum by (flow) (persona_consumer_lag{run})"
    queries["events_in_per_s"] = f"sum by (flow) (rate(persona_events_in_total{run}[{window}]))"
    queries["decisions_per_s"] = f"sum(rate(persona_decisions_total{run}[{window}]))"
    queries["cpu_percent"] = f"100 * sum by (flow) (rate(persona_process_cpu_seconds_total{run}[{window}]))"
    queries["rss_mib"] = f"sum by (flow) (persona_process_resident_memory_bytes{run}) / 1048576"
    return queries


def window_p99_queries(targets: RunTargets, seconds: float) -> dict[str, str]:
    """p99 freshness per sink of the histogram samples recorded in the ``seconds`` before the instant
    the query is evaluated at (a measured window's end): ``<sink>_p99_s``."""
    return {f"{sink}_p99_s": freshness_quantile(targets, sink, 0.99, f"{seconds:.0f}s") for sink in SINKS}


@dataclass(frozen=True)
class Series:
    """One series of a range query: its labels, sample times (epoch seconds) and values."""

    labels: Mapping[str, str]
    t_s: tuple[float, ...]
    values: tuple[float, ...]

    def to_json(self, origin_s: float) -> dict[str, Any]:
        """For the report: times in seconds since ``origin_s``; NaN (no samples in a rate's window, a
        quantile of nothing) as null."""
        return {
            "labels": dict(self.labels),
            "t_s": [round(t - origin_s, 3) for t in self.t_s],
            "values": [None if math.isnan(v) else v for v in self.values],
        }


def matrix_series(result: Sequence[Mapping[str, Any]]) -> list[Series]:
    """Prometheus's matrix (``data.result`` of a range query) as series, in its order. Values are
    strings there ("NaN" and "+Inf" included), which ``float`` reads as they are."""
    return [
        Series(
            labels=dict(item["metric"]),
            t_s=tuple(float(t) for t, _ in item["values"]),
            values=tuple(float(v) for _, v in item["values"]),
        )
        for item in result
    ]


def first_step_s(start_s: float, end_s: float, step_s: float) -> float:
    """Where a range query from ``start_s`` to ``end_s`` starts so that its last step is ``end_s``
    itself (Prometheus evaluates at start + k·step up to the end): the run's last scrapes are read."""
    return end_s - math.floor(max(0.0, end_s - start_s) / step_s) * step_s


def last_value(series: Sequence[Series]) -> float:
    """The last value of a single series (an instant evaluated as a range of one step); NaN if none."""
    if not series or not series[0].values:
        return math.nan
    return series[0].values[-1]


def scrape_interval_s(duration: str) -> float:
    """A Prometheus duration such as ``5s``, ``1m`` or ``1m30s``, in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"(\d+)(ms|s|m|h|d)", duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(n) * units[u] for n, u in parts)
