"""A flow's progress as its Bytewax recovery store records it: the input offsets of its last durable
epoch. Imports no Bytewax, so the tools (runner, bench) read it too, and the flow process itself for
its consumer lag (``lag.py``)."""

from __future__ import annotations

import pickle
import sqlite3
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
