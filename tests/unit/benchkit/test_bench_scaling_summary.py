"""The comparison `persona bench --enrich-processes N` prints (pure: built reports, no run)."""

from __future__ import annotations

from typing import Any

from persona.benchkit.report import BenchReport, WindowResult
from persona.benchkit.summary import scaling_lines


def _report(tag: str, decisions: float, enrich_cpu: list[float], step_rates: list[float]) -> BenchReport:
    window = WindowResult(
        "measure", 10_000, 20_000, 5_000.0, 47_500, decisions, 1, 1, 0.1, 0.2, 0.3, 5.0, 8.0, 9.0
    )
    samples: list[dict[str, Any]] = [{"t": 5.0, "enrich_cpu": 400.0}]  # before the window: not counted
    samples += [{"t": 10.0 + i, "enrich_cpu": cpu} for i, cpu in enumerate(enrich_cpu)]
    return BenchReport(
        tag=tag,
        started_at="",
        config={"step_rates": step_rates},
        machine={},
        load={},
        producer_ceiling_eps=0,
        flows_ready_s=0,
        windows=[window],
        floor_eps=1,
        floor_records=1,
        highest_held_eps=5_000.0 if step_rates else None,
        samples=samples,
        series={},
    )


def test_the_comparison_gives_the_ratio_and_enrichs_cpu_over_its_processes_in_the_window() -> None:
    lines = scaling_lines(_report("a", 4_000, [80, 100], []), _report("b", 6_000, [150, 170], []), 2)
    assert lines[1] == "== enrich: 1 process (a) vs 2 processes (b), same invocation =="
    assert lines[2].startswith("decisions/s: 4,000 vs 6,000 (× 1.50); rt p99 0.30s vs 0.30s")
    assert lines[3] == "enrich CPU (all its processes) in that window: 90% vs 160% of one core"


def test_in_step_mode_the_comparison_starts_with_the_highest_rate_held() -> None:
    lines = scaling_lines(_report("a", 4_000, [90], [5_000]), _report("b", 4_500, [95], [5_000]), 2)
    assert lines[2] == "highest offered rate held: 5,000 records/s vs 5,000 records/s"
    assert lines[3].startswith("decisions/s at that rate: 4,000 vs 4,500 (× 1.12)")
