"""Run a flow as its own process, as in production: ``python -m bytewax.run <factory>``.

Recovery is on: each flow has a recovery directory (initialized once with ``bytewax.recovery``),
a snapshot every ``snapshot_seconds`` (``epoch_seconds``: the sink's Paimon commit interval, or the
enrich flow's own epoch when one is set), so a flow killed at any moment resumes from its last snapshot.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from persona.flows.cdc.spec import SPEC as CDC
from persona.flows.common.spec import FlowSpec
from persona.flows.enrich.spec import SPEC as ENRICH
from persona.flows.sink.spec import SPEC as SINK
from persona.settings import PipelineSettings
from persona.settings.registry import COMMIT_INTERVAL

FLOWS: dict[str, FlowSpec] = {spec.name: spec for spec in (CDC, ENRICH, SINK)}
"""Every flow by name, in pipeline order (each one's output is a later one's input)."""


def flow_spec(name: str) -> FlowSpec:
    if name not in FLOWS:
        raise ValueError(f"unknown flow {name!r}; expected one of {', '.join(FLOWS)}")
    return FLOWS[name]


def ensure_recovery_dir(path: Path, partitions: int = 1) -> None:
    """Create Bytewax's recovery partitions once; an initialized directory is left as it is."""
    if path.is_dir() and any(path.glob("part-*.sqlite3")):
        return
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "bytewax.recovery", str(path), str(partitions)],
        check=True,
        capture_output=True,
    )


def epoch_seconds(name: str, settings: PipelineSettings) -> float:
    """The Bytewax epoch (snapshot interval) of a flow: the commit interval, unless enrich has its own.

    The sink commits Paimon once per epoch, and cdc's epoch only paces its offsets. Enrich snapshots every
    customer's state per epoch, while its decisions leave as they are made, so with much state a longer
    epoch saves work (``PERSONA_ENRICH_EPOCH``).
    """
    if name == "enrich" and settings.enrich_epoch_seconds is not None:
        return settings.enrich_epoch_seconds
    return settings.commit_interval_seconds


def flow_command(name: str, recovery_dir: Path, snapshot_seconds: float) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bytewax.run",
        flow_spec(name).factory,
        "-r",
        str(recovery_dir),
        "-s",
        # bytewax.run takes whole seconds; a sub-second interval rounds up to one.
        str(max(1, math.ceil(snapshot_seconds))),
        "-b",
        "0",
    ]


@dataclass
class FlowProcess:
    """One flow process with its log file; ``start``/``kill``/``stop`` for the demo and the tests."""

    name: str
    state_dir: Path
    env: Mapping[str, str]
    snapshot_seconds: float = COMMIT_INTERVAL.default
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def spec(self) -> FlowSpec:
        return flow_spec(self.name)

    @property
    def log_path(self) -> Path:
        return self.state_dir / "logs" / f"flow-{self.name}.log"

    @property
    def recovery_dir(self) -> Path:
        return self.state_dir / "recovery" / self.name

    @classmethod
    def configured(
        cls, name: str, state_dir: Path, env: Mapping[str, str], settings: PipelineSettings
    ) -> FlowProcess:
        """The flow run with ``env`` over this process's environment, at the epoch ``settings`` give it.

        ``settings`` are the caller's, read once at its entry point from that same environment: the
        runner derives the flow's epoch from them and parses nothing itself. The child gets ``env`` as
        variables and parses its own settings once, when its ``build_flow()`` runs.
        """
        return cls(name, state_dir, env, snapshot_seconds=epoch_seconds(name, settings))

    @property
    def customer_log_dir(self) -> Path:
        """The enrich flow's customer log, inside its recovery directory: one goes with the other."""
        return self.recovery_dir / "customers"

    def start(self) -> None:
        ensure_recovery_dir(self.recovery_dir)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env}
        if self.name == "enrich":
            env.setdefault("PERSONA_ENRICH_STATE_DIR", str(self.customer_log_dir))
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            flow_command(self.name, self.recovery_dir, self.snapshot_seconds),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: the crash the recovery tests simulate."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGINT first (Bytewax ends the epoch and closes its sinks), SIGKILL after ``timeout``."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                self.process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                continue
        if self.process.poll() is None:
            self.kill()

    def input_offsets(self) -> dict[str, int]:
        """The flow's durable input offsets (``"<partition>-<topic>" -> next offset``); empty until
        it has completed an epoch."""
        return committed_input_offsets(self.recovery_dir, self.spec.input_step_id)

    def committed_offsets(self, topic: str) -> int:
        """How many messages of ``topic`` (all partitions) the flow has durably processed."""
        suffix = f"-{topic}"
        offsets = self.input_offsets()
        return sum(v for k, v in offsets.items() if k.endswith(suffix) and k.split("-", 1)[1] == topic)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log yet)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def committed_input_offsets(recovery_dir: Path, input_step: str) -> dict[str, int]:
    """Offsets of a flow's Kafka input (``"<partition>-<topic>" -> next offset``) as of its last
    durable epoch: everything before them has passed through every step of the flow.

    Read from Bytewax's recovery store, so it is the flow's own account of its progress; it serves
    consumer lag for monitoring and benchmarks, and ordering barriers in tests.
    """
    import pickle
    import sqlite3

    offsets: dict[str, int] = {}
    for db in sorted(recovery_dir.glob("part-*.sqlite3")):
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT max(commit_epoch) FROM commits").fetchone()
            if row is None or row[0] is None:
                continue
            commit_epoch = int(row[0])
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
    return offsets
