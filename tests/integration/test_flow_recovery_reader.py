"""The flows' reader of their own recovery store (``CommittedInputReader``): it reads in a child
process, what ``committed_input`` reads, while a Bytewax flow in this very process writes the store;
a reader that dies or a store that cannot be read is an error the next read recovers from.

Real Bytewax recovery stores, written by real (small) dataflows run here."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import run_main

from persona.flows.common.recovery import CommittedInputReader, RecoveryReadError, committed_input

STEP = "reader_test.in"


class _Counting(StatefulSourcePartition[int, int]):
    """Emits 1..until, one item per batch; its snapshot is its position, like a Kafka offset."""

    def __init__(self, resume: int | None, until: int, gate: threading.Event | None) -> None:
        self.position, self.until, self.gate = resume or 0, until, gate

    def next_batch(self) -> list[int]:
        if self.position >= self.until:
            raise StopIteration
        if self.gate is not None and not self.gate.is_set() and self.position == self.until // 2:
            return []  # half-way until the test lets go: epochs still close, the store is written
        self.position += 1
        return [self.position]

    def next_awake(self) -> datetime | None:
        return datetime.now(UTC) + timedelta(milliseconds=5)

    def snapshot(self) -> int:
        return self.position


class _Source(FixedPartitionedSource[int, int]):
    def __init__(self, until: int, gate: threading.Event | None = None) -> None:
        self.until, self.gate = until, gate

    def list_parts(self) -> list[str]:
        return ["0-t", "1-t"]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _Counting:
        return _Counting(resume_state, self.until, self.gate)


class _Discard(DynamicSink[int]):
    def build(self, step_id: str, worker_index: int, worker_count: int) -> StatelessSinkPartition[int]:
        class Partition(StatelessSinkPartition[int]):
            def write_batch(self, items: list[int]) -> None:
                pass

        return Partition()


def _run(store: Path, source: _Source) -> None:
    flow = Dataflow("reader_test")
    op.output("out", op.input("in", flow, source), _Discard())
    run_main(flow, epoch_interval=timedelta(milliseconds=50), recovery_config=RecoveryConfig(str(store)))


@pytest.fixture
def store(tmp_path: Path) -> Path:
    init_db_dir(tmp_path, 2)
    return tmp_path


@pytest.fixture
def reader(store: Path) -> Iterator[CommittedInputReader]:
    reader = CommittedInputReader(store, STEP, timeout=30)
    yield reader
    reader.close()


def _wait_for(what: str, check, timeout: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while (value := check()) is None:
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def test_the_reader_reads_in_its_own_process_what_committed_input_reads(
    store: Path, reader: CommittedInputReader
) -> None:
    _run(store, _Source(200))
    read = reader()
    assert read == committed_input(store, STEP)
    assert read.offsets == {"0-t": 200, "1-t": 200}
    assert reader.pid is not None and reader.pid != os.getpid()
    assert reader() == read  # the same child answers again
    child = reader.pid
    reader.close()
    assert reader.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)  # ended with the reader, not left behind


def test_the_reader_follows_a_flow_writing_the_store_in_this_very_process(
    store: Path, reader: CommittedInputReader
) -> None:
    gate = threading.Event()
    flow = threading.Thread(target=_run, args=(store, _Source(400, gate)), daemon=True)
    flow.start()
    try:
        # Half-way, the flow holds its position and keeps closing epochs: the store is being written.
        half = _wait_for(
            "the half-way position to be durable",
            lambda: r if (r := reader()).offsets == {"0-t": 200, "1-t": 200} else None,
        )
        epochs = [half.epoch]
        for _ in range(20):
            epochs.append(reader().epoch)
        assert all(e is not None for e in epochs)
        assert epochs == sorted(epochs), "a durable epoch never goes back"
    finally:
        gate.set()
    flow.join(60)
    assert not flow.is_alive()
    final = reader()
    assert final.offsets == {"0-t": 400, "1-t": 400}
    assert final == committed_input(store, STEP)


def test_a_killed_reader_is_an_error_and_the_next_read_starts_another(
    store: Path, reader: CommittedInputReader
) -> None:
    _run(store, _Source(10))
    first = reader()
    child = reader.pid
    assert child is not None
    os.kill(child, signal.SIGKILL)
    with pytest.raises(RecoveryReadError, match=r"did not answer|failed"):
        reader()
    assert reader() == first
    assert reader.pid not in (None, child)


def test_a_store_that_is_not_a_database_is_an_error_with_the_cause(tmp_path: Path) -> None:
    (tmp_path / "part-0.sqlite3").write_bytes(b"this is not a database" * 100)
    reader = CommittedInputReader(tmp_path, STEP, timeout=30)
    try:
        with pytest.raises(RecoveryReadError, match="file is not a database"):
            reader()
    finally:
        reader.close()
