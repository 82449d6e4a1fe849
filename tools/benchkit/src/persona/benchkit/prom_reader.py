"""Reading a run's series back from the stack's Prometheus (``persona bench --plots-from prometheus``):
the range queries of ``prom_series`` over HTTP, one step per scrape interval. A Prometheus that does
not answer, or a query without a sample of the run, is a ``StackError`` that names it."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from persona.benchkit.prom_series import (
    RunTargets,
    first_step_s,
    last_value,
    matrix_series,
    range_queries,
    scrape_interval_s,
    window_p99_queries,
)
from persona.benchkit.report import BenchReport
from persona.localstack import StackError, StackSettings
from persona.localstack.configs import PROMETHEUS_SCRAPE_INTERVAL
from persona.localstack.prometheus import query_range

# Each rate and quantile looks back over this many scrape intervals: a rate needs two samples in its
# window, and four keep a missed scrape from leaving a gap.
RATE_WINDOW_SCRAPES = 4


def read_run(
    stack: StackSettings,
    targets: RunTargets,
    start_ms: int,
    end_ms: int,
    windows: Sequence[tuple[str, int, int]] = (),
) -> dict[str, Any]:
    """The run's series from ``start_ms`` to ``end_ms`` (times in seconds since ``start_ms``), and for
    each measured window ``(name, start_ms, end_ms)`` the p99 freshness per sink of the histogram
    samples recorded in it; with the PromQL of each, for the report."""
    step_s = scrape_interval_s(PROMETHEUS_SCRAPE_INTERVAL)
    rate_window_s = RATE_WINDOW_SCRAPES * step_s
    start_s, end_s = start_ms / 1000, end_ms / 1000
    queries = range_queries(targets, rate_window_s)
    series: dict[str, list[dict[str, Any]]] = {}
    for name, promql in queries.items():
        first = first_step_s(start_s, end_s, step_s)
        found = matrix_series(query_range(stack, promql, first, end_s, step_s))
        if not found:
            raise StackError(
                f"Prometheus at {stack.prometheus_url} has no samples of {name} for bench run {targets.run} "
                f"from {_utc(start_s)} to {_utc(end_s)} (were its flows scraped?): {promql}"
            )
        series[name] = [s.to_json(start_s) for s in found]
    window_p99: list[dict[str, Any]] = []
    for name, w_start_ms, w_end_ms in windows:
        at = w_end_ms / 1000
        p99 = window_p99_queries(targets, (w_end_ms - w_start_ms) / 1000)
        values = {
            key: _json(last_value(matrix_series(query_range(stack, q, at, at, step_s))))
            for key, q in p99.items()
        }
        window_p99.append({"name": name, "at_ms": w_end_ms, **values, "queries": p99})
    return {
        "url": stack.prometheus_url,
        "targets": targets.to_json(),
        "start_ms": start_ms,
        "end_ms": end_ms,
        "step_s": step_s,
        "rate_window_s": rate_window_s,
        "queries": queries,
        "series": series,
        "windows": window_p99,
    }


def _json(value: float) -> float | None:
    return None if math.isnan(value) else value


def _utc(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).isoformat(timespec="seconds")


def read_report_series(stack: StackSettings, report: BenchReport) -> dict[str, Any]:
    """``read_run`` for a finished run: its targets, from the load's start to its end, its windows."""
    if not report.scrape_targets or not report.run_end_ms:
        raise StackError(
            f"bench run {report.tag} recorded no scrape targets: nothing to read from Prometheus"
        )
    instances = report.scrape_targets["instances"]
    targets = RunTargets(report.tag, {flow: tuple(found) for flow, found in instances.items()})
    spans = [(w.name, w.start_ms, w.end_ms) for w in report.windows]
    return read_run(stack, targets, report.load_started_ms, report.run_end_ms, spans)
