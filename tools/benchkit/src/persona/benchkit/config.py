"""What one bench run does: data sizes, offered load, timings, and the run plan's defaults
(full size, or ``--quick``). Each default is declared here once; the command only overrides."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from persona.benchkit.stats import next_rates


@dataclass
class BenchConfig:
    customers: int = 1_000_000
    skus: int = 100_000
    # Records/s offered (events + order changes); 0: as fast as Kafka takes them.
    rate: float = 30_000
    warmup_s: float = 30.0
    measure_s: float = 120.0
    # Step mode: offered rates held ``step_s`` each (the last ``2/3`` of each step is measured).
    step_rates: list[float] = field(default_factory=list)
    step_s: float = 60.0
    commit_interval: float = 10.0
    # The enrich flow's epoch; None: the commit interval (PERSONA_ENRICH_EPOCH).
    enrich_epoch: float | None = None
    partitions: int = 4
    # Records the producer generates once and then replays with fresh times and ids.
    pool_size: int = 400_000
    seed: int = 7
    # Seconds the producer-ceiling measurement offers load to a scratch topic.
    ceiling_s: float = 5.0
    # Seconds the load stays on after the last window for its events to reach Paimon.
    drain_timeout_s: float = 90.0
    p99_paimon_limit_s: float = 30.0
    # py-spy samples this flow during the measured window into ``profile``.
    profile: Path | None = None
    profile_flow: str = "enrich"
    keep: bool = False
    # Enrich gets a core to itself: every other process of the run is pinned to the remaining
    # cores (``core_plan``); False leaves all of them to the kernel's scheduler.
    enrich_core: bool = True
    # Processes of the enrich flow's Bytewax cluster (``PERSONA_ENRICH_ADDRESSES``); 1: one process.
    enrich_processes: int = 1
    # After the warm-up, keep the load on (up to this many seconds) until the flows have caught up,
    # so the measured window starts from a steady state: a just-started stack's cold JVMs leave a
    # backlog that takes minutes to drain. 0: measure after the warm-up as is.
    settle_max_s: float = 600.0


FULL = BenchConfig()
QUICK = replace(
    FULL,
    customers=100_000,
    skus=10_000,
    warmup_s=15.0,
    measure_s=45.0,
    pool_size=200_000,
    ceiling_s=3.0,
    drain_timeout_s=40.0,
)


def plan_run(*, quick: bool, step_rate: str | None = None, **given: Any) -> BenchConfig:
    """The full or quick defaults with ``given`` (BenchConfig fields; None: not given) over them.

    ``step_rate`` ``"START,FACTOR,MAX"`` is step mode: each step starts with its own settle, so
    there is no warm-up unless ``warmup_s`` is given (a warm-up, and the wait until the flows catch
    up, at the first rate, for a just-started stack)."""
    chosen = {name: value for name, value in given.items() if value is not None}
    chosen.setdefault("step_rates", [])  # a list of this run's own, not the defaults'
    if step_rate:
        start, factor, maximum = (float(x) for x in step_rate.split(","))
        chosen["step_rates"] = [float(r) for r in next_rates(start, factor, maximum)]
        chosen.setdefault("warmup_s", 0.0)
    return replace(QUICK if quick else FULL, **chosen)
