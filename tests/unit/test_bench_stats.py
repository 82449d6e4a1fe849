"""The pure parts of `persona bench`: percentiles, the step-rate verdict, the report line, the
profile summary and ISO parsing. No timing assertions."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest

from persona.benchkit.plots import load_started_s
from persona.benchkit.profile import top_functions, top_self
from persona.benchkit.stats import (
    StepResult,
    highest_held_rate,
    next_rates,
    parse_iso_ms,
    per_second,
    percentile,
    percentiles,
    report_line,
    step_holds,
)


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile(values, 0.0) == 1.0
    assert percentiles(reversed(values), (0.5, 0.95, 0.99)) == [50.0, 95.0, 99.0]


def test_percentile_small_and_empty() -> None:
    assert percentile([3.0], 0.99) == 3.0
    assert percentile([5.0, 1.0], 0.5) == 1.0
    assert math.isnan(percentile([], 0.5))
    assert all(math.isnan(p) for p in percentiles([], (0.5, 0.99)))
    with pytest.raises(ValueError):
        percentile([1.0], 1.5)


def test_per_second_buckets_drop_outside() -> None:
    buckets = per_second([1000, 1500, 2999, 999, 4000], [1.0, 2.0, 3.0, 9.0, 9.0], 1000, 4000)
    assert buckets == [[1.0, 2.0], [3.0], []]


def _step(offered: float, through: float, p99: float, missing: float = 0.0) -> StepResult:
    return StepResult(offered, through, 0.5, p99, missing_fraction=missing, events_share=0.95)


def test_step_holds_needs_throughput_freshness_and_completeness() -> None:
    assert step_holds(_step(10_000, 9_500, 12.0))
    assert not step_holds(_step(10_000, 8_000, 12.0))  # fell behind
    assert not step_holds(_step(10_000, 9_500, 31.0))  # too stale
    assert not step_holds(_step(10_000, 9_500, 12.0, missing=0.05))  # events never landed
    assert not step_holds(_step(10_000, 9_500, math.nan))


def test_highest_held_rate_stops_at_first_failure() -> None:
    steps = [_step(10_000, 9_500, 11.0), _step(20_000, 19_000, 14.0), _step(40_000, 20_000, 90.0)]
    assert highest_held_rate(steps) == 20_000
    # A later step that looks fine after a failed one does not count (it measured a backlog).
    steps.append(_step(80_000, 76_000, 20.0))
    assert highest_held_rate(steps) == 20_000
    assert highest_held_rate([_step(10_000, 1_000, 100.0)]) is None
    assert highest_held_rate([]) is None


def test_next_rates() -> None:
    assert next_rates(10_000, 2, 80_000) == [10_000, 20_000, 40_000, 80_000]
    assert next_rates(5_000, 1.5, 12_000) == [5_000, 7_500, 11_250]
    with pytest.raises(ValueError):
        next_rates(10, 1, 100)


def test_report_line_format() -> None:
    assert report_line(31234.6, 0.4567, 12.0) == "throughput_eps=31235 p99_rt_s=0.46 p99_paimon_s=12.00"
    assert report_line(0, math.nan, math.inf) == "throughput_eps=0 p99_rt_s=nan p99_paimon_s=inf"


def test_parse_iso_ms_matches_datetime() -> None:
    for text in ("2026-11-24T04:31:13.000Z", "2026-11-24T04:31:13.987Z", "2001-09-09T01:46:40.123Z"):
        expected = int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
        assert parse_iso_ms(text.encode()) == expected
    assert parse_iso_ms(b"2026-11-24T04:31:13Z") == parse_iso_ms(b"2026-11-24T04:31:13.000Z")


def test_profile_summary_counts_inclusive_once_per_stack() -> None:
    collapsed = "main;loop;decide;decide 30\nmain;loop;parse 10\nreactor;read 20\n"
    total, ranked = top_functions(collapsed)
    assert total == 60
    by_frame = {f: (own, incl) for f, own, incl in ranked}
    assert by_frame["decide"] == (30, 30)
    assert by_frame["main"] == (0, 40)
    assert top_self(collapsed, 2) == [("decide", 30), ("read", 20)]


def test_machine_busy_counts_everything_but_idle_and_iowait() -> None:
    import os

    from persona.benchkit.procstat import machine_busy_seconds

    ticks = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal guest guest_nice
    text = f"cpu  {3 * ticks} 0 {ticks} {10 * ticks} {2 * ticks} 0 0 {ticks} 0 0\ncpu0 1 2 3\n"
    assert machine_busy_seconds(text) == pytest.approx((5.0, 17.0))
    with pytest.raises(ValueError, match="first line"):
        machine_busy_seconds("intr 1 2 3\n")


def test_machine_sampler_reports_busy_cores_times_100_between_samples(tmp_path: Path) -> None:
    from persona.benchkit.procstat import MachineSampler

    stat = tmp_path / "stat"
    sampler = MachineSampler(cores=2, stat_path=stat)
    stat.write_text("cpu  100 0 0 100 0 0 0 0\n")
    assert sampler.sample() is None  # nothing to compare with yet
    # 300 more ticks on two cores: 150 busy -> one core's worth of the two.
    stat.write_text("cpu  200 0 50 240 10 0 0 0\n")
    assert sampler.sample() == pytest.approx(100.0)
    stat.unlink()
    assert sampler.sample() is None


def test_core_plan_gives_enrich_the_lowest_cpu_and_the_rest_to_everything_else() -> None:
    from persona.benchkit.core_plan import plan_cores

    plan = plan_cores([3, 1, 2])
    assert plan is not None
    assert plan.enrich == frozenset({1})
    assert plan.others == frozenset({2, 3})
    assert plan.describe() == "cpu 1 for enrich, cpu 2,3 for everything else"
    assert plan_cores([0]) is None
    assert plan_cores([]) is None


def test_caught_up_allows_an_epoch_and_a_half_of_input_and_no_more() -> None:
    from persona.benchkit.stats import caught_up

    assert caught_up(0, 30_000, 10)
    assert caught_up(316_000, 31_600, 10)
    assert caught_up(450_000, 30_000, 10)
    assert not caught_up(450_001, 30_000, 10)
    assert not caught_up(1_900_000, 31_600, 10)


def test_settling_needs_samples_over_two_epochs() -> None:
    from persona.benchkit.stats import samples_spanning

    assert samples_spanning(20, 2) == 10
    assert samples_spanning(21, 2) == 11
    assert samples_spanning(2, 2) == 3


def test_plots_put_second_zero_where_the_load_started_including_the_extended_warm_up() -> None:
    first_window_ms = 1_795_591_493_904
    report = {"windows": [{"start_ms": first_window_ms}], "config": {"warmup_s": 120.0}, "settled_s": 20.5}
    assert load_started_s(report) == pytest.approx(first_window_ms / 1000 - 140.5)
    del report["settled_s"]  # reports written before the warm-up could be extended
    assert load_started_s(report) == pytest.approx(first_window_ms / 1000 - 120.0)
