"""The summary lines of `persona bench --plots-from prometheus`: each window's p99 freshness, the
bench's beside the flows' histogram in Prometheus (pure: a built report, no run)."""

from __future__ import annotations

from dataclasses import replace

from persona.benchkit.report import BenchReport, WindowResult
from persona.benchkit.summary import prometheus_lines
from persona.flows.common.spec import FRESHNESS_SAMPLE_EVERY


def _report() -> BenchReport:
    window = WindowResult(
        "measure", 10_000, 55_000, 5_000.0, 47_500, 4_000, 1, 1, 0.1, 0.2, 0.31, 5.0, 8.0, 12.5
    )
    return BenchReport(
        tag="t",
        started_at="",
        config={},
        machine={},
        load={},
        producer_ceiling_eps=0,
        flows_ready_s=0,
        windows=[window],
        floor_eps=1,
        floor_records=1,
        highest_held_eps=None,
        samples=[],
        series={},
    )


PROMETHEUS = {
    "url": "http://127.0.0.1:9090",
    "step_s": 5.0,
    "rate_window_s": 20.0,
    "targets": {
        "labels": {"bench_run": "t"},
        "instances": {"cdc": ["a:1"], "enrich": ["a:2"], "sink": ["a:3"]},
    },
    "series": {"rt_p99_s": [{}], "lag_records": [{}, {}, {}]},
    "windows": [{"name": "measure", "rt_p99_s": 0.42, "paimon_p99_s": None}],
}


def test_each_windows_p99_is_the_benchs_beside_the_histograms() -> None:
    lines = prometheus_lines(replace(_report(), prometheus=PROMETHEUS))
    assert lines == [
        "Prometheus (http://127.0.0.1:9090, step 5s, rates over 20s): 4 series of the run's 3 flow processes",
        "p99 freshness, the bench's vs the flows' histogram "
        f"(1 decision in {FRESHNESS_SAMPLE_EVERY}, buckets) in Prometheus:",
        "  measure         rt 0.31s vs 0.42s; Paimon 12.50s vs n/a",
    ]


def test_without_prometheus_series_there_is_no_comparison() -> None:
    assert prometheus_lines(_report()) == []
