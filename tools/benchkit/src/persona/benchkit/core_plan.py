"""A core for the enrich flow: the other processes of a bench run share the remaining cores.

Enrich is the one flow whose CPU decides the end-to-end rate (one Bytewax worker, one Python
thread doing the decisions). On a shared machine the kernel's fair scheduler hands its core to
whichever process wakes up — Cassandra's request threads, Kafka's, the sink's commits — so enrich
can wait for a core while the machine has idle time.
In production each flow runs in its own pod with its own CPU request; on one Kubernetes node with
the static CPU manager a Guaranteed pod asking for a whole CPU gets that core to itself. This
module does the same on one machine with ``sched_setaffinity``: every other process of the run
(Kafka, Cassandra, the sink, cdc, the producer, the bench) is allowed only the remaining cores.
Enrich itself is left free, so its helper threads (librdkafka's, the Cassandra driver's) may use
any core.

Affinity is per thread on Linux, and a new thread inherits its creator's: pinning every thread a
process has now covers the threads it starts later.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CorePlan:
    enrich: frozenset[int]
    others: frozenset[int]

    def describe(self) -> str:
        return f"cpu {_cpus(self.enrich)} for enrich, cpu {_cpus(self.others)} for everything else"


def _cpus(cpus: Iterable[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def plan_cores(available: Iterable[int]) -> CorePlan | None:
    """Enrich gets the lowest available CPU, the rest get the others; None with fewer than two."""
    cpus = sorted(set(available))
    if len(cpus) < 2:
        return None
    return CorePlan(enrich=frozenset(cpus[:1]), others=frozenset(cpus[1:]))


def thread_ids(pid: int) -> list[int]:
    """The thread ids of ``pid`` (empty if it is gone)."""
    try:
        return [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        return []


def process_affinity(pid: int) -> frozenset[int]:
    """The CPUs ``pid``'s main thread may run on."""
    return frozenset(os.sched_getaffinity(pid))


def pin_process(pid: int, cpus: Iterable[int]) -> int:
    """Allow every thread of ``pid`` only ``cpus``; returns how many threads were pinned.

    A thread that ends meanwhile is skipped; a process that does not exist raises
    ``ProcessLookupError``."""
    wanted = set(cpus)
    tids = thread_ids(pid)
    if not tids:
        raise ProcessLookupError(f"no process {pid} to pin")
    pinned = 0
    for tid in tids:
        try:
            os.sched_setaffinity(tid, wanted)
        except ProcessLookupError:
            continue
        pinned += 1
    return pinned


@dataclass
class PinnedProcesses:
    """Processes pinned by a plan, with the affinity each had, so the long-lived ones (the stack's
    Kafka and Cassandra, the bench itself) get their cores back when the run ends."""

    before: dict[int, frozenset[int]]

    @classmethod
    def pin(cls, pids: Iterable[int], cpus: Iterable[int]) -> tuple[PinnedProcesses, int]:
        before: dict[int, frozenset[int]] = {}
        threads = 0
        wanted = frozenset(cpus)
        for pid in pids:
            try:
                previous = process_affinity(pid)
                threads += pin_process(pid, wanted)
            except ProcessLookupError:
                continue
            before[pid] = previous
        return cls(before), threads

    def restore(self) -> None:
        for pid, cpus in self.before.items():
            try:
                pin_process(pid, cpus)
            except ProcessLookupError:
                continue
        self.before = {}
