"""Run a flow as its own process, as in production: ``python -m bytewax.run <factory>``.

Recovery is on: each flow has a recovery directory (initialized once with ``bytewax.recovery``),
a snapshot every ``snapshot_seconds`` (``epoch_seconds``: the sink's Paimon commit interval, or the
enrich flow's own epoch when one is set), so a flow killed at any moment resumes from its last snapshot.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from persona.flows.cdc.spec import SPEC as CDC
from persona.flows.common.recovery import committed_input_offsets
from persona.flows.common.spec import FlowSpec
from persona.flows.enrich.spec import SPEC as ENRICH
from persona.flows.sink.spec import SPEC as SINK
from persona.localstack.procs import die_with_parent, private_dir, tail_lines
from persona.localstack.prometheus import remove_target, write_target
from persona.localstack.settings import StackSettings
from persona.settings import PipelineSettings
from persona.settings.registry import (
    COMMIT_INTERVAL,
    ENRICH_ADDRESSES,
    ENRICH_PROCESS_ID,
    METRICS_PORT,
    STOP_TIMEOUT,
)

log = logging.getLogger(__name__)

FLOWS: dict[str, FlowSpec] = {spec.name: spec for spec in (CDC, ENRICH, SINK)}
"""Every flow by name, in pipeline order (each one's output is a later one's input)."""


def metrics_port(name: str, base: int) -> int:
    """The metrics and health port of flow ``name`` started here: each flow its own, from ``base``
    (``PERSONA_METRICS_PORT``) in pipeline order (cdc, enrich, sink); 0: none."""
    return 0 if base == 0 else base + list(FLOWS).index(flow_spec(name).name)


def flow_spec(name: str) -> FlowSpec:
    if name not in FLOWS:
        raise ValueError(f"unknown flow {name!r}; expected one of {', '.join(FLOWS)}")
    return FLOWS[name]


@dataclass(frozen=True)
class Cluster:
    """One process of a flow's Bytewax cluster: every process's address, and which one this is.

    Each process keeps its own recovery partition (``part-<process_id>``) and, for enrich, the customer
    log of the shards it holds: on Kubernetes, one pod of a StatefulSet and its volume. Bytewax needs
    the processes together to hold every partition, which they do; a shard stays on the process its
    key hashes to, so the process count, like the shard count, is fixed for a recovery store's life.
    """

    addresses: tuple[str, ...]
    process_id: int

    def __post_init__(self) -> None:
        if not 0 <= self.process_id < len(self.addresses):
            raise ValueError(
                f"process id {self.process_id} is not an index of the {len(self.addresses)} cluster addresses"
            )

    @property
    def processes(self) -> int:
        return len(self.addresses)

    @classmethod
    def of(cls, addresses: Iterable[str], process_id: int) -> Cluster:
        return cls(tuple(addresses), process_id)

    @classmethod
    def from_env(cls, env: Mapping[str, str], hostname: str | None = None) -> Cluster | None:
        """The enrich cluster ``PERSONA_ENRICH_ADDRESSES`` names (None: one process), this process's id
        ``PERSONA_ENRICH_PROCESS_ID`` or else the trailing ordinal of ``hostname`` (default: this
        host's), as a StatefulSet names its pods (``enrich-0``, ``enrich-1``, ...)."""
        addresses = ENRICH_ADDRESSES.get(env)
        if addresses is None:
            return None
        process_id = ENRICH_PROCESS_ID.get(env)
        if process_id is None:
            name = hostname if hostname is not None else os.uname().nodename
            ordinal = process_ordinal(name)
            if ordinal is None:
                raise ValueError(
                    f"PERSONA_ENRICH_PROCESS_ID is unset and the hostname {name!r} ends in no ordinal "
                    "(as a StatefulSet's pod-N): set it to this process's index in PERSONA_ENRICH_ADDRESSES"
                )
            process_id = ordinal
        return cls(addresses, process_id)


_ORDINAL = re.compile(r"-(\d+)$")


def process_ordinal(hostname: str) -> int | None:
    """The ordinal a StatefulSet gives its pod: ``enrich-2`` -> 2 (the first label of a FQDN)."""
    match = _ORDINAL.search(hostname.split(".", 1)[0])
    return None if match is None else int(match.group(1))


def ensure_recovery_dir(path: Path, partitions: int = 1, only: int | None = None) -> None:
    """Create Bytewax's recovery partitions once; an initialized directory is left as it is.

    Idempotent and crash-safe: the partitions are made in a scratch directory beside ``path`` and
    moved in only when complete, so a start killed half-way leaves no partial store that every later
    start would trip over. What else ``path`` holds (the enrich flow's customer log) is kept.
    ``only``: of the ``partitions`` made, keep just ``part-<only>`` (one process of a cluster; the
    others keep theirs, and Bytewax finds the whole set across the cluster).
    """
    if path.is_dir() and any(path.glob("part-*.sqlite3")):
        return
    private_dir(path)
    scratch = path.with_name(f".{path.name}.init")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(mode=0o700)
    subprocess.run(
        [sys.executable, "-m", "bytewax.recovery", str(scratch), str(partitions)],
        check=True,
        capture_output=True,
    )
    for part in sorted(scratch.glob("part-*.sqlite3")):
        if only is None or part.name == f"part-{only}.sqlite3":
            part.replace(path / part.name)
    shutil.rmtree(scratch, ignore_errors=True)


def epoch_seconds(name: str, settings: PipelineSettings) -> float:
    """The Bytewax epoch (snapshot interval) of a flow: the commit interval, unless enrich has its own.

    The sink commits Paimon once per epoch, and cdc's epoch only paces its offsets. Enrich snapshots every
    customer's state per epoch, while its decisions leave as they are made, so with much state a longer
    epoch saves work (``PERSONA_ENRICH_EPOCH``).
    """
    if name == "enrich" and settings.enrich_epoch_seconds is not None:
        return settings.enrich_epoch_seconds
    return settings.commit_interval_seconds


def flow_command(
    name: str, recovery_dir: Path, snapshot_seconds: float, cluster: Cluster | None = None
) -> list[str]:
    where = [] if cluster is None else ["-a", ";".join(cluster.addresses), "-i", str(cluster.process_id)]
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
        *where,
    ]


# Every flow process started here and not yet seen stopped: what stop_started_flows() ends.
_STARTED: list[FlowProcess] = []
_STARTED_LOCK = threading.Lock()


def started_flows() -> list[FlowProcess]:
    """The flow processes this interpreter started and has not seen end."""
    with _STARTED_LOCK:
        return list(_STARTED)


def stop_started_flows(timeout: float = STOP_TIMEOUT.default, keep: Iterable[FlowProcess] = ()) -> list[str]:
    """Stop every flow process this interpreter started that is still running, but those in ``keep``;
    the names of those stopped.

    Registered with ``atexit`` on the first start, and called by the CLI when any command ends (keeping
    what was running before it began), so a command that fails or is stopped after starting flows
    never leaves one running.
    """
    kept = {id(flow) for flow in keep}
    stopped = []
    for flow in started_flows():
        if id(flow) in kept:
            continue
        if flow.alive():
            stopped.append(flow.name)
            flow.stop(timeout)
        flow._forget()
    return stopped


def describe_exit(returncode: int) -> str:
    """How a process ended, in words: a negative Popen return code is the signal that killed it."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exited with code {returncode}"


@dataclass
class FlowProcess:
    """One flow process with its log file; ``start``/``kill``/``stop`` for the demo and the tests.

    The process is a session (process group) of its own, so a Ctrl-C in the terminal reaches only
    the caller, which stops its flows cleanly. It also dies with the thread that started it, and
    :func:`stop_started_flows` stops what is left at exit: no flow outlives its caller.
    ``echo`` also copies the flow's output to that stream (``persona run``: its stderr, the
    container's log), besides the log file. ``cluster``: this is one process of the flow's Bytewax
    cluster, with its own recovery directory, customer log and log file (``<flow>-<process id>``).
    """

    name: str
    state_dir: Path
    env: Mapping[str, str]
    snapshot_seconds: float = COMMIT_INTERVAL.default
    echo: BinaryIO | None = None
    cluster: Cluster | None = None
    # Flows sharing a host (the demo, the bench, the tests, `persona run` on the local stack) each get
    # their own metrics port from the base; a container's single flow (False) uses the base itself.
    port_per_flow: bool = True
    # Labels the local Prometheus adds to every series of this process besides ``flow``: the bench
    # names its run, so its queries tell this run's series from an earlier run's on the same ports.
    scrape_labels: Mapping[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _pump: threading.Thread | None = field(default=None, init=False, repr=False)

    @property
    def spec(self) -> FlowSpec:
        return flow_spec(self.name)

    @property
    def label(self) -> str:
        """The flow's name, or ``<name>-<process id>`` for one process of a cluster."""
        return self.name if self.cluster is None else f"{self.name}-{self.cluster.process_id}"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "logs" / f"flow-{self.label}.log"

    @property
    def recovery_dir(self) -> Path:
        return self.state_dir / "recovery" / self.label

    @classmethod
    def configured(
        cls,
        name: str,
        state_dir: Path,
        env: Mapping[str, str],
        settings: PipelineSettings,
        echo: BinaryIO | None = None,
        cluster: Cluster | None = None,
        *,
        port_per_flow: bool = True,
        scrape_labels: Mapping[str, str] | None = None,
    ) -> FlowProcess:
        """The flow run with ``env`` over this process's environment, at the epoch ``settings`` give it.

        ``settings`` are the caller's, read once at its entry point from that same environment: the
        runner derives the flow's epoch from them and parses nothing itself. The child gets ``env`` as
        variables and parses its own settings once, when its ``build_flow()`` runs.
        """
        return cls(
            name,
            state_dir,
            env,
            snapshot_seconds=epoch_seconds(name, settings),
            echo=echo,
            cluster=cluster,
            port_per_flow=port_per_flow,
            scrape_labels=dict(scrape_labels or {}),
        )

    def metrics_port(self) -> int:
        """This flow's metrics port: ``PERSONA_METRICS_PORT`` of its environment, as the base of the
        flows' ports (``port_per_flow``) or as it is. On a shared host, process N > 0 of a cluster
        serves ``len(FLOWS) * N`` above its flow's port, past the single-process flows' ports."""
        base = METRICS_PORT.get({**os.environ, **self.env})
        if not self.port_per_flow or base == 0:
            return base
        process = 0 if self.cluster is None else self.cluster.process_id
        return metrics_port(self.name, base) + len(FLOWS) * process

    def scrape_address(self) -> str | None:
        """Where the local Prometheus scrapes this process: its ``instance`` label; None: no endpoint.
        A flow listening on every interface is scraped on loopback."""
        port = self.metrics_port()
        if not port:
            return None
        host = {**os.environ, **self.env}.get("PERSONA_METRICS_HOST", "127.0.0.1")
        address = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        return f"{address}:{port}"

    @property
    def customer_log_dir(self) -> Path:
        """The enrich flow's customer log, inside its recovery directory: one goes with the other."""
        return self.recovery_dir / "customers"

    def command(self) -> list[str]:
        return flow_command(self.name, self.recovery_dir, self.snapshot_seconds, self.cluster)

    def start(self) -> None:
        private_dir(self.state_dir)
        cluster = self.cluster
        if cluster is None:
            ensure_recovery_dir(self.recovery_dir)
        else:
            ensure_recovery_dir(self.recovery_dir, cluster.processes, only=cluster.process_id)
        private_dir(self.log_path.parent)
        env = {**os.environ, **self.env}
        if self.name == "enrich":
            env.setdefault("PERSONA_ENRICH_STATE_DIR", str(self.customer_log_dir))
        port = self.metrics_port()
        env["PERSONA_METRICS_PORT"] = str(port)
        instance = self.scrape_address()
        if instance is not None:
            _scrape(self.name, self.label, instance, env, self.scrape_labels)
        log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            stdout=log_file if self.echo is None else subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        if self.echo is None:
            log_file.close()
        else:
            self._pump = threading.Thread(
                target=_copy_lines, args=(self.process, log_file, self.echo), name=f"flow-{self.label}-output"
            )
            self._pump.daemon = True
            self._pump.start()
        with _STARTED_LOCK:
            if not _STARTED:
                atexit.register(stop_started_flows)
            _STARTED.append(self)

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: the crash the recovery tests simulate."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self._finish_output()

    def stop(self, timeout: float = STOP_TIMEOUT.default) -> None:
        """SIGINT first (Bytewax ends the epoch and closes its sinks), SIGKILL after ``timeout``."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    self.process.wait(timeout=0.2)
                except subprocess.TimeoutExpired:
                    continue
        if self.process.poll() is None:
            self.kill()
        self._finish_output()
        # Stopped on purpose: not a flow down. (A killed flow keeps its target: it is down.)
        _unscrape(self.label, {**os.environ, **self.env})

    def _finish_output(self) -> None:
        """Once the process is gone: let the output copier reach the end, and unregister."""
        if self._pump is not None:
            self._pump.join(5.0)
        if self.process is not None and self.process.poll() is not None:
            self._forget()

    def _forget(self) -> None:
        with _STARTED_LOCK:
            _STARTED[:] = [f for f in _STARTED if f is not self]

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
        return "\n".join(tail_lines(self.log_path, lines))


def _scrape(name: str, label: str, instance: str, env: Mapping[str, str], labels: Mapping[str, str]) -> None:
    """Have the local Prometheus (``$PERSONA_HOME/prometheus/targets``) scrape the flow, labelled
    ``flow=<name>`` (and ``labels``); a target file (``<label>``: one per process of a cluster),
    whether or not Prometheus runs."""
    try:
        write_target(StackSettings.from_env(env), label, [instance], {**labels, "flow": name})
    except Exception as error:  # no scrape target is no reason not to run the flow
        log.warning("flow %s: no Prometheus scrape target written: %s", name, error)


def _unscrape(name: str, env: Mapping[str, str]) -> None:
    try:
        remove_target(StackSettings.from_env(env), name)
    except Exception as error:
        log.warning("flow %s: its Prometheus scrape target not removed: %s", name, error)


def _copy_lines(process: subprocess.Popen[bytes], log_file: BinaryIO, echo: BinaryIO) -> None:
    """Copy a flow's output, line by line, to its log file and to ``echo`` until it ends."""
    assert process.stdout is not None
    with log_file, process.stdout:
        for line in process.stdout:
            log_file.write(line)
            log_file.flush()
            try:
                echo.write(line)
                echo.flush()
            except (OSError, ValueError):  # a closed or broken echo stream must not stop the log file
                pass
