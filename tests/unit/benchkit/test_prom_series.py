"""The PromQL `persona bench --plots-from prometheus` sends, scoped to one run's flow processes, and
Prometheus's range-query matrices turned into the report's series."""

from __future__ import annotations

import json
import math
import re

import pytest

from persona.benchkit.prom_series import (
    RUN_LABEL,
    RunTargets,
    Series,
    first_step_s,
    freshness_quantile,
    last_value,
    matrix_series,
    range_queries,
    scrape_interval_s,
    window_p99_queries,
)

TARGETS = RunTargets(
    "ab12cd34",
    {
        "cdc": ("127.0.0.1:31464",),
        "enrich": ("127.0.0.1:31465", "127.0.0.1:31467"),
        "sink": ("127.0.0.1:31466",),
    },
)


def _matchers(promql: str) -> list[str]:
    """Every label-matcher block of a query."""
    return re.findall(r"\{[^}]*\}", promql)


def test_the_selector_names_the_run_and_every_instance_of_its_flows() -> None:
    selector = TARGETS.selector(sink="rt")
    assert selector == (
        '{bench_run="ab12cd34",'
        r'instance=~"127\\.0\\.0\\.1:31464|127\\.0\\.0\\.1:31465|127\\.0\\.0\\.1:31466|127\\.0\\.0\\.1:31467",'
        'sink="rt"}'
    )
    # Prometheus's regex (RE2, fully anchored) as the string unescapes it: exactly these four.
    pattern = selector.split('instance=~"')[1].split('"')[0].replace("\\\\", "\\")
    assert re.fullmatch(pattern, "127.0.0.1:31467")
    assert not re.fullmatch(pattern, "127.0.0.1:31468")
    assert not re.fullmatch(pattern, "127a0.0.1:31464")


def test_quotes_and_backslashes_in_a_value_are_escaped() -> None:
    assert RunTargets('a"b\\c', {}).selector().startswith('{bench_run="a\\"b\\\\c",')


def test_every_range_query_is_scoped_to_the_run() -> None:
    queries = range_queries(TARGETS, 20.0)
    assert set(queries) == {
        "rt_p50_s",
        "rt_p99_s",
        "paimon_p50_s",
        "paimon_p99_s",
        "lag_records",
        "events_in_per_s",
        "decisions_per_s",
        "cpu_percent",
        "rss_mib",
    }
    for name, promql in queries.items():
        blocks = _matchers(promql)
        assert blocks, name
        for block in blocks:
            assert f'{RUN_LABEL}="ab12cd34"' in block and "instance=~" in block, (name, block)


def test_freshness_quantiles_read_the_histogram_of_one_sink_as_the_alert_does() -> None:
    queries = range_queries(TARGETS, 20.0)
    assert queries["paimon_p99_s"] == (
        "histogram_quantile(0.99, sum by (le) (rate(persona_segment_freshness_seconds_bucket"
        f"{TARGETS.selector(sink='paimon')}[20s])))"
    )
    assert queries["rt_p50_s"].startswith("histogram_quantile(0.5, ")
    assert 'sink="rt"' in queries["rt_p50_s"]
    assert queries["cpu_percent"].startswith("100 * sum by (flow) (rate(persona_process_cpu_seconds_total{")
    assert queries["rss_mib"].endswith(") / 1048576")
    assert queries["lag_records"] == f"sum by (flow) (persona_consumer_lag{TARGETS.selector()})"


def test_a_windows_p99_looks_back_over_the_window() -> None:
    queries = window_p99_queries(TARGETS, 45.2)
    assert queries == {
        "rt_p99_s": freshness_quantile(TARGETS, "rt", 0.99, "45s"),
        "paimon_p99_s": freshness_quantile(TARGETS, "paimon", 0.99, "45s"),
    }


MATRIX = [
    {
        "metric": {"flow": "enrich"},
        "values": [[1700000000, "12"], [1700000005, "NaN"], [1700000010.5, "+Inf"]],
    },
    {"metric": {"flow": "sink"}, "values": [[1700000005, "3.5"]]},
]


def test_a_matrix_becomes_series_in_its_order_with_nan_and_inf_read() -> None:
    series = matrix_series(MATRIX)
    assert [s.labels for s in series] == [{"flow": "enrich"}, {"flow": "sink"}]
    assert series[0].t_s == (1700000000.0, 1700000005.0, 1700000010.5)
    assert series[0].values[0] == 12.0
    assert math.isnan(series[0].values[1])
    assert series[0].values[2] == math.inf
    assert series[1] == Series({"flow": "sink"}, (1700000005.0,), (3.5,))


def test_in_the_report_times_count_from_the_runs_start_and_nan_is_null() -> None:
    got = matrix_series(MATRIX)[0].to_json(origin_s=1699999990.0)
    assert got == {"labels": {"flow": "enrich"}, "t_s": [10.0, 15.0, 20.5], "values": [12.0, None, math.inf]}
    json.dumps(matrix_series(MATRIX)[1].to_json(0.0), allow_nan=False)  # valid JSON


def test_the_last_value_of_an_instant_or_nan_when_nothing_matched() -> None:
    assert last_value(matrix_series(MATRIX)) == math.inf
    assert math.isnan(last_value([]))


@pytest.mark.parametrize(("text", "seconds"), [("5s", 5.0), ("1m", 60.0), ("1m30s", 90.0), ("250ms", 0.25)])
def test_scrape_intervals_in_seconds(text: str, seconds: float) -> None:
    assert scrape_interval_s(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 s", "1x"])
def test_a_malformed_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        scrape_interval_s(text)


def test_a_range_query_is_stepped_back_from_the_end_so_the_last_scrapes_are_read() -> None:
    assert first_step_s(100.3, 131.9, 5.0) == pytest.approx(101.9)
    assert first_step_s(100.0, 130.0, 5.0) == 100.0
    assert first_step_s(100.0, 100.0, 5.0) == 100.0  # an instant: one step
