"""A flow's progress as its Bytewax recovery store records it: the input offsets of its last durable
epoch. Imports no Bytewax, so the tools (runner, bench) read it too, and the flow process itself for
its consumer lag (``lag.py``) — through ``CommittedInputReader``, which reads in a child process."""

from __future__ import annotations

import contextlib
import json
import pickle
import select
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CommittedInput:
    """The last durable epoch (None: none yet) and the input offsets it made durable."""

    epoch: int | None = None
    offsets: dict[str, int] = field(default_factory=dict)
    """``"<partition>-<topic>" -> next offset``; everything before it has passed every step of the flow."""


def committed_input(recovery_dir: Path, input_step: str) -> CommittedInput:
    """The offsets of a flow's Kafka input as of its last durable epoch, from its recovery store."""
    offsets: dict[str, int] = {}
    epoch: int | None = None
    for db in sorted(recovery_dir.glob("part-*.sqlite3")):
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT max(commit_epoch) FROM commits").fetchone()
            if row is None or row[0] is None:
                continue
            commit_epoch = int(row[0])
            epoch = commit_epoch if epoch is None else min(epoch, commit_epoch)
            rows = conn.execute(
                "SELECT state_key, ser_change FROM snaps AS s WHERE step_id = ? AND snap_epoch <= ? AND "
                "snap_epoch = (SELECT max(snap_epoch) FROM snaps WHERE step_id = s.step_id "
                "AND state_key = s.state_key AND snap_epoch <= ?)",
                (input_step, commit_epoch, commit_epoch),
            ).fetchall()
        for key, blob in rows:
            if blob is not None:
                value = pickle.loads(blob)  # bytewax's own pickled snapshot of the source partition
                if isinstance(value, int):
                    # Negative values are librdkafka's logical "beginning"/"end": nothing read yet.
                    offsets[str(key)] = max(value, 0)
    return CommittedInput(epoch, offsets)


def committed_input_offsets(recovery_dir: Path, input_step: str) -> dict[str, int]:
    """Offsets of a flow's Kafka input (``"<partition>-<topic>" -> next offset``) as of its last
    durable epoch: everything before them has passed through every step of the flow.

    Read from Bytewax's recovery store, so it is the flow's own account of its progress; it serves
    consumer lag for monitoring and benchmarks, and ordering barriers in tests.
    """
    return committed_input(recovery_dir, input_step).offsets


class RecoveryReadError(RuntimeError):
    """The recovery store could not be read (the reader process failed, timed out or the store did)."""


# The child's program: one answer (a JSON line) per request line on stdin; it ends at end of input, so
# it never outlives the flow process that holds its stdin.
_READER_PROGRAM = """
import json, sys
from pathlib import Path
from persona.flows.common.recovery import committed_input
directory, step = Path(sys.argv[1]), sys.argv[2]
for _ in sys.stdin:
    try:
        got = committed_input(directory, step)
        answer = {"epoch": got.epoch, "offsets": got.offsets}
    except Exception as error:
        answer = {"error": f"{type(error).__name__}: {error}"}
    sys.stdout.write(json.dumps(answer) + "\\n")
    sys.stdout.flush()
"""


class CommittedInputReader:
    """``committed_input`` of one store, read by a long-lived child process on each call.

    Why not in the flow process: Bytewax writes its store through the SQLite it bundles (rusqlite),
    and a second SQLite library in the same process (Python's ``sqlite3``) breaks SQLite's locking.
    POSIX advisory locks belong to the process, so neither library sees the other's locks, and
    closing any descriptor of the file drops all of the process's locks on it, Bytewax's included
    (sqlite.org/howtocorrupt.html, "Multiple copies of SQLite linked into the same application"). A
    reader in its own process is an ordinary second connection, as the runner's and the tests' are.

    A child that dies or does not answer within ``timeout`` seconds is killed, the call raises
    ``RecoveryReadError``, and the next call starts a new one. Thread-safe; ``close`` ends the child.
    """

    def __init__(self, recovery_dir: Path, input_step: str, timeout: float = 30.0) -> None:
        self._args = [sys.executable, "-c", _READER_PROGRAM, str(recovery_dir), input_step]
        self._timeout = timeout
        self._child: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The reading child's pid (None before the first read or after a failure)."""
        return None if self._child is None else self._child.pid

    def __call__(self) -> CommittedInput:
        with self._lock:
            child = self._child or self._start()
            try:
                assert child.stdin is not None and child.stdout is not None
                child.stdin.write("\n")
                child.stdin.flush()
                ready, _, _ = select.select([child.stdout], [], [], self._timeout)
                line = child.stdout.readline() if ready else ""
            except OSError as error:
                self._stop()
                raise RecoveryReadError(f"the recovery reader process failed: {error}") from error
            if not line:
                self._stop()
                raise RecoveryReadError(
                    "the recovery reader process did not answer"
                    + (f" within {self._timeout:g} s" if not ready else " (it ended)")
                )
        answer = json.loads(line)
        if "error" in answer:
            raise RecoveryReadError(f"reading the recovery store: {answer['error']}")
        return CommittedInput(answer["epoch"], {str(k): int(v) for k, v in answer["offsets"].items()})

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _start(self) -> subprocess.Popen[str]:
        self._child = subprocess.Popen(
            self._args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        return self._child

    def _stop(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        if child.stdin is not None:
            with contextlib.suppress(OSError):  # a dead child's pipe
                child.stdin.close()
        try:
            child.wait(timeout=2)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
