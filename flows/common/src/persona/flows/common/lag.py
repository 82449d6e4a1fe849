"""A flow's consumer lag and readiness (``/readyz``): pure functions over its committed offsets and the
topics' end offsets, and the thread that computes them every few seconds in the flow process.

Lag is what the flow has durably done, not what it has polled: the offsets of its last durable epoch
in its Bytewax recovery store (``recovery.py``) against each input partition's end offset. A record
counts as lag until the epoch that processed it is committed, so a flow at rest shows 0 once its next
epoch ends.
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from persona.flows.common.recovery import CommittedInput

log = logging.getLogger(__name__)

PartitionLag = dict[tuple[str, int], int]
"""``(topic, partition) -> records`` behind the partition's end."""


def consumer_lag(committed: Mapping[str, int], ends: Mapping[str, Mapping[int, int]]) -> PartitionLag:
    """The lag of every partition of ``ends`` (``topic -> partition -> end offset``), from committed
    offsets keyed ``"<partition>-<topic>"`` as Bytewax's Kafka source keys them. A partition with no
    committed offset has done nothing yet: its lag is its end offset."""
    return {
        (topic, partition): max(0, end - committed.get(f"{partition}-{topic}", 0))
        for topic, partition_ends in ends.items()
        for partition, end in partition_ends.items()
    }


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str


def readiness(
    committed: CommittedInput | None, lag: PartitionLag | None, max_lag: int, error: str | None = None
) -> Readiness:
    """Ready once the flow has completed an epoch and no input partition lags more than ``max_lag``.

    ``committed``/``lag`` None: not known yet (the first measurement has not run); ``error``: why the
    last measurement failed (Kafka unreachable), which makes the flow not ready.
    """
    if error is not None:
        return Readiness(False, f"consumer lag unknown: {error}")
    if committed is None or lag is None:
        return Readiness(False, "consumer lag not measured yet")
    if committed.epoch is None:
        return Readiness(False, "no epoch completed yet")
    worst = max(lag.items(), key=lambda item: item[1], default=None)
    if worst is not None and worst[1] > max_lag:
        (topic, partition), records = worst
        return Readiness(False, f"lag {records} on {topic}[{partition}] is above {max_lag}")
    return Readiness(True, f"epoch {committed.epoch} durable, lag at most {0 if worst is None else worst[1]}")


def recovery_dir_of(argv: Sequence[str], env: Mapping[str, str]) -> Path | None:
    """The recovery directory ``python -m bytewax.run`` was given (``-r``/``--recovery-directory``, or
    ``BYTEWAX_RECOVERY_DIRECTORY``): the flow process's own store; None without recovery."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-r", "--recovery-directory")
    known, _ = parser.parse_known_args(list(argv))
    given = known.recovery_directory or env.get("BYTEWAX_RECOVERY_DIRECTORY")
    return Path(given) if given else None


@dataclass
class LagState:
    """The last measurement, as the HTTP thread and the metrics collection read it."""

    committed: CommittedInput | None = None
    lag: PartitionLag | None = None
    error: str | None = None


@dataclass
class LagWatcher:
    """Measures the flow's lag every ``every_seconds`` on a daemon thread.

    ``read_committed`` reads the recovery store; ``read_ends`` the end offsets of the input topics
    (``topic -> partition -> end``). Both are given by the wiring, so this runs on anything.
    """

    read_committed: Callable[[], CommittedInput]
    read_ends: Callable[[], dict[str, dict[int, int]]]
    every_seconds: float = 5.0
    state: LagState = field(default_factory=LagState)
    _stop: threading.Event = field(default_factory=threading.Event)
    _failures: int = 0

    def measure(self) -> LagState:
        try:
            committed = self.read_committed()
            ends = self.read_ends()
        except Exception as error:  # Kafka away, a store being written: measured again later
            self._failures += 1
            if self._failures == 1 or self._failures % 60 == 0:
                log.warning("consumer lag not measured (%s failures so far): %s", self._failures, error)
            self.state = LagState(self.state.committed, self.state.lag, f"{type(error).__name__}: {error}")
            return self.state
        self._failures = 0
        self.state = LagState(committed, consumer_lag(committed.offsets, ends))
        return self.state

    def start(self) -> LagWatcher:
        thread = threading.Thread(target=self._run, name="persona-lag", daemon=True)
        thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while True:
            self.measure()
            if self._stop.wait(self.every_seconds):
                return
