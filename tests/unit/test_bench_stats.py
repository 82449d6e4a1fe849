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


# Summed lag samples (records, ~2 s apart) from the end of the 120 s warm-up of three full-size runs
# on a just-started stack at 31,600 records/s, with the second each was taken.
_FRESH_71B09BF7 = [400764, 468481, 536522, 589162, 656588, 349325, 417154, 483797, 534396, 601764,
                   282907, 350161, 417552, 468837, 536387, 207480, 274417, 341467, 392087, 459080,
                   135104, 202587, 269954, 320944, 387922, 58007, 125475, 192028, 243606, 310767,
                   61833, 130345, 196787, 248690, 316197, 67043]  # fmt: skip
_FRESH_71B09BF7_T = [121.5, 123.5, 125.5, 127.6, 129.6, 131.7, 133.7, 135.8, 137.8, 139.8, 141.9,
                     143.9, 145.9, 148.0, 150.0, 152.0, 154.0, 156.0, 158.1, 160.1, 162.1, 164.2,
                     166.2, 168.2, 170.2, 172.2, 174.2, 176.3, 178.3, 180.3, 182.3, 184.4, 186.4,
                     188.4, 190.5, 192.5]  # fmt: skip
_FRESH_E2D09761 = [151576, 219522, 271036, 338864, 405700, 60783, 127777, 179148, 246531, 314392,
                   63109, 130604, 181715, 249450, 314599, 65851]  # fmt: skip
_FRESH_AB2C1296_TAIL = [159618, 210612, 277694, 344873, 411171, 45084, 97158, 166454, 233908,
                        301382, 36923, 88303, 155852, 225546, 293068, 44202]  # fmt: skip


def _first_caught_up(lags: list[int]) -> int | None:
    from persona.benchkit.stats import caught_up

    return next((i for i in range(len(lags)) if caught_up(lags[: i + 1], 31_600, 10, 2)), None)


def test_caught_up_waits_for_the_sawtooths_low_points_not_only_its_peaks() -> None:
    # 71b09bf7's peaks were all under 1.5 epochs of input from 152 s on; its low points were still
    # 207k and 135k records (rt p99 4.8 and 2.9 s). Caught up once two epochs have lows of 58k, 62k.
    first = _first_caught_up(_FRESH_71B09BF7)
    assert first is not None
    assert _FRESH_71B09BF7_T[first] == 182.3
    # e2d09761: the backlog was gone at 132 s; two epochs of low points later, 142 s.
    assert _first_caught_up(_FRESH_E2D09761) == 10


def test_caught_up_needs_two_epochs_of_samples_and_a_low_point_in_each() -> None:
    from persona.benchkit.stats import caught_up

    tail = _FRESH_AB2C1296_TAIL  # from 214.8 s: the last epoch of backlog, then caught up
    assert not caught_up(tail[5:14], 31_600, 10, 2)  # nine samples: less than two epochs
    assert caught_up(tail[5:15], 31_600, 10, 2)
    assert not caught_up(tail[0:10], 31_600, 10, 2)  # the first epoch's lowest is 160k: a backlog
    # At half the rate, half the lag is caught up; at a quarter of the rate its peaks are too high.
    half = [v // 2 for v in tail[5:15]]
    assert caught_up(half, 15_800, 10, 2)
    assert not caught_up(half, 7_900, 10, 2)


def test_caught_up_refuses_a_peak_over_an_epoch_and_a_half_of_input() -> None:
    from persona.benchkit.stats import caught_up

    lows_fine = [40_000, 120_000, 200_000, 280_000, 474_001] * 2
    assert not caught_up(lows_fine, 31_600, 10, 2)
    assert caught_up([40_000, 120_000, 200_000, 280_000, 474_000] * 2, 31_600, 10, 2)


def test_plots_put_second_zero_where_the_load_started_including_the_extended_warm_up() -> None:
    first_window_ms = 1_795_591_493_904
    report = {"windows": [{"start_ms": first_window_ms}], "config": {"warmup_s": 120.0}, "settled_s": 20.5}
    assert load_started_s(report) == pytest.approx(first_window_ms / 1000 - 140.5)
    del report["settled_s"]  # a report without the warm-up's extension
    assert load_started_s(report) == pytest.approx(first_window_ms / 1000 - 120.0)
    # Reports that record it (step runs: each step's settle comes before its window) are taken at their word.
    report["load_started_ms"] = first_window_ms - 20_000
    assert load_started_s(report) == pytest.approx(first_window_ms / 1000 - 20.0)


def test_bench_reports_an_unusable_stack_as_a_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from persona.cli.main import main

    monkeypatch.setenv("PERSONA_HOME", str(tmp_path))
    monkeypatch.setenv("PERSONA_PARTITIONS", "0")  # invalid: the stack settings refuse it
    assert main(["bench", "--quick", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("bench: ")
    assert "at least 1" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_the_summary_says_whether_the_warm_up_waited_and_whether_the_flows_caught_up() -> None:
    from persona.benchkit.config import BenchConfig
    from persona.benchkit.summary import warm_up_line

    cfg = BenchConfig(warmup_s=120.0, rate=31_600, settle_max_s=600.0)
    assert warm_up_line(cfg, 26.4) == "warm-up: 120s, then 26s until the flows caught up"
    assert warm_up_line(cfg, 600.2).endswith("then 600s more; the flows had not caught up (--settle-max)")
    assert warm_up_line(BenchConfig(warmup_s=120.0, rate=31_600, settle_max_s=0.0), 0.0) == "warm-up: 120s"
    assert warm_up_line(BenchConfig(warmup_s=30.0, rate=0.0), 0.0) == "warm-up: 30s"
    steps = BenchConfig(warmup_s=0.0, step_rates=[20_000.0, 25_000.0])
    assert warm_up_line(steps, 0.0).startswith("warm-up: none (step mode")
    steps.warmup_s = 15.0
    assert warm_up_line(steps, 18.0) == "warm-up: 15s, then 18s until the flows caught up"
