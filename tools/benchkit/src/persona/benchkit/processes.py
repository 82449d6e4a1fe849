"""The processes of a bench run: the three flows (started as in production), their progress as
their recovery stores tell it, and the core plan that gives enrich a core to itself."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from persona.benchkit.core_plan import PinnedProcesses, plan_cores
from persona.benchkit.flow_specs import ENRICH, FLOWS, FlowSpec
from persona.contracts import Topics
from persona.kafka import EndOffsets
from persona.localstack import SERVICES, StackSettings, running_pid
from persona.localstack.runner import Cluster, FlowProcess
from persona.settings import PipelineSettings
from persona.settings.registry import METRICS_HOST

log = logging.getLogger(__name__)


class RunFlows:
    """The cdc, enrich and sink flows of one run, each its own process with its own recovery store;
    with ``enrich_processes`` > 1, enrich is a Bytewax cluster of that many processes on local ports
    (``Cluster``), and what the run reads of enrich (progress, CPU, RSS) covers all of them."""

    def __init__(
        self,
        state_dir: Path,
        env: Mapping[str, str],
        enrich_processes: int = 1,
        scrape_labels: Mapping[str, str] | None = None,
    ) -> None:
        self.state_dir = state_dir
        # Scraped by the local Prometheus on loopback; nothing else needs to reach them.
        env = {**env, "PERSONA_METRICS_HOST": METRICS_HOST.given({**os.environ, **env}) or "127.0.0.1"}
        settings = PipelineSettings.from_env({**os.environ, **env})
        self._procs: dict[str, list[FlowProcess]] = {}
        for spec in FLOWS:
            if spec is ENRICH and enrich_processes > 1:
                addresses = tuple(f"127.0.0.1:{port}" for port in free_ports(enrich_processes))
                self._procs[spec.name] = [
                    FlowProcess.configured(
                        spec.name,
                        state_dir,
                        env,
                        settings,
                        cluster=Cluster.of(addresses, i),
                        scrape_labels=scrape_labels,
                    )
                    for i in range(enrich_processes)
                ]
            else:
                self._procs[spec.name] = [
                    FlowProcess.configured(spec.name, state_dir, env, settings, scrape_labels=scrape_labels)
                ]

    def __iter__(self) -> Iterator[FlowSpec]:
        return iter(FLOWS)

    def _all(self) -> list[FlowProcess]:
        return [p for procs in self._procs.values() for p in procs]

    def process(self, spec: FlowSpec) -> FlowProcess:
        """The flow's (first) process."""
        return self._procs[spec.name][0]

    def pid(self, spec: FlowSpec) -> int | None:
        """The pid of the flow's (first) process."""
        pids = self.pids(spec)
        return pids[0] if pids else None

    def pids(self, spec: FlowSpec) -> list[int]:
        """The pids of every process of the flow."""
        return [p.process.pid for p in self._procs[spec.name] if p.process is not None]

    def scrape_addresses(self) -> dict[str, tuple[str, ...]]:
        """Per flow, where the local Prometheus scrapes its processes (their ``instance`` labels)."""
        return {
            name: tuple(a for p in procs if (a := p.scrape_address()) is not None)
            for name, procs in self._procs.items()
        }

    def start(self, timeout: float) -> None:
        """Start every flow and wait until each has completed an epoch: its inputs are assigned and
        every step is built (the enrich flow has loaded its profiles)."""
        for proc in self._all():
            proc.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [p for p in self._all() if not p.alive()]
            if dead:
                raise RuntimeError(f"flow {dead[0].name} exited during start-up:\n{dead[0].log_tail()}")
            if all(self.committed(spec) for spec in FLOWS):
                return
            time.sleep(0.5)  # polling interval of the readiness check
        raise RuntimeError("flows did not become ready in time")

    def check_alive(self) -> None:
        dead = [p for p in self._all() if not p.alive()]
        if dead:
            raise RuntimeError(f"flow {dead[0].name} exited under load:\n{dead[0].log_tail()}")

    def hold(self, seconds: float) -> None:
        """Let ``seconds`` pass, checking every second that every flow still runs."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.check_alive()
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    def stop(self) -> None:
        for proc in self._all():
            proc.stop()

    def committed(self, spec: FlowSpec) -> dict[str, int]:
        """``"<partition>-<topic>" -> next offset`` the flow has durably processed (over a cluster's
        processes: each records the input partitions it reads in its own recovery partition)."""
        offsets: dict[str, int] = {}
        for proc in self._procs[spec.name]:
            for key, offset in proc.input_offsets().items():
                offsets[key] = max(offsets.get(key, 0), offset)
        return offsets

    def lag(self, spec: FlowSpec, offsets: EndOffsets, topics: Topics) -> int:
        """Records of the flow's inputs not yet durably processed (up to an epoch of them may be
        processed already: the recovery store advances once an epoch)."""
        done = self.committed(spec)
        lag = 0
        for topic in spec.inputs(topics):
            for p, end in offsets.end(topic).items():
                lag += max(0, end - done.get(f"{p}-{topic}", 0))
        return lag

    def processed_at_least(self, spec: FlowSpec, topic: str, targets: dict[int, int]) -> bool:
        done = self.committed(spec)
        return all(done.get(f"{p}-{topic}", 0) >= end for p, end in targets.items())


def give_enrich_a_core(
    stack: StackSettings, flows: RunFlows, producer_pid: int | None
) -> PinnedProcesses | None:
    """Pin every process of the run but enrich (Kafka, Cassandra, sink, cdc, the producer and this
    one) to the cores enrich's core is not; ``restore()`` gives them their old affinity back."""
    plan = plan_cores(os.sched_getaffinity(0))
    if plan is None:
        log.info("one CPU only: enrich shares it with everything else")
        return None
    pids = [pid for spec in flows if spec is not ENRICH for pid in flows.pids(spec)]
    pids += [pid for s in SERVICES if (pid := running_pid(stack, s)) is not None]
    if producer_pid is not None:
        pids.append(producer_pid)
    pids.append(os.getpid())
    pinned, threads = PinnedProcesses.pin(pids, plan.others)
    log.info("%s: %d processes (%d threads) pinned", plan.describe(), len(pinned.before), threads)
    return pinned


def free_ports(count: int) -> list[int]:
    """``count`` local TCP ports free now, as the OS picks them (a cluster's addresses)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
