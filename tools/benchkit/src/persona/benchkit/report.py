"""A bench run's results: each measured window, the run as a whole, and its JSON report."""

from __future__ import annotations

import contextlib
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from persona.benchkit.stats import StepResult


@dataclass
class WindowResult:
    name: str
    start_ms: int
    end_ms: int
    offered_eps: float
    produced_events: int
    throughput_eps: float
    decisions_rt: int
    decisions_paimon: int
    rt_p50_s: float
    rt_p95_s: float
    rt_p99_s: float
    paimon_p50_s: float
    paimon_p95_s: float
    paimon_p99_s: float

    @property
    def missing_fraction(self) -> float:
        if self.produced_events <= 0:
            return 0.0
        landed = min(self.decisions_rt, self.decisions_paimon)
        return max(0.0, 1.0 - landed / self.produced_events)

    @property
    def offered_events_eps(self) -> float:
        return self.produced_events / ((self.end_ms - self.start_ms) / 1000)

    def step(self) -> StepResult:
        return StepResult(
            self.offered_eps,
            self.throughput_eps,
            self.rt_p99_s,
            self.paimon_p99_s,
            missing_fraction=self.missing_fraction,
            events_share=self.offered_events_eps / self.offered_eps if self.offered_eps else 1.0,
        )


@dataclass
class BenchReport:
    tag: str
    started_at: str
    config: dict[str, Any]
    machine: dict[str, Any]
    load: dict[str, float]
    producer_ceiling_eps: float
    flows_ready_s: float
    windows: list[WindowResult]
    floor_eps: float
    floor_records: int
    highest_held_eps: float | None
    samples: list[dict[str, Any]]
    series: dict[str, list[float]]
    profile_path: str | None = None
    # Seconds the warm-up was extended until the flows caught up (``settle_max_s``).
    settled_s: float = 0.0
    # When the producer started offering load (epoch ms): second 0 of ``series``.
    load_started_ms: int = 0
    # When the load stopped, before the flows did (epoch ms): the end of what Prometheus is asked for.
    run_end_ms: int = 0
    # The flows' Prometheus scrape targets: the run's label and each flow's instances
    # (``prom_series.RunTargets.to_json``).
    scrape_targets: dict[str, Any] | None = None
    # With ``--plots-from prometheus``: what ``prom_reader.read_run`` read (queries, series, window p99s).
    prometheus: dict[str, Any] | None = None

    @property
    def main(self) -> WindowResult:
        """The window the final line reports: the only one, or in step mode the highest rate held."""
        return self.windows[-1] if not self.config["step_rates"] else self._best_window()

    def _best_window(self) -> WindowResult:
        held = self.highest_held_eps
        for w in self.windows:
            if held is not None and w.offered_eps >= 0 and round(w.offered_eps) == round(held):
                return w
        return self.windows[0]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["windows"] = [
            {**asdict(w), "missing_fraction": w.missing_fraction, "offered_events_eps": w.offered_events_eps}
            for w in self.windows
        ]
        return out


def machine_info() -> dict[str, Any]:
    mem_kb = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
