"""The three flows of a chaos row, run as production runs them: each under ``persona run``'s
supervisor (``persona.localstack.supervisor.Supervisor``), in a thread of its own.

A flow that dies is restarted by its supervisor (backoff, waiting for Kafka), as in a container;
``keep_running`` plays the orchestrator above it: a supervision that gave up (too many failures in
its window, as a corrupt state makes it) is started again, after ``before_restart`` (the corrupt-state
row's recovery step). The rows and the harness only kill, signal and watch the flow processes.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from persona.localstack.runner import FLOWS, FlowProcess
from persona.localstack.supervised import SupervisedFlows
from persona.localstack.supervisor import Dependency, RestartPolicy, Supervisor, kafka_probe

log = logging.getLogger(__name__)

FLOW_NAMES: tuple[str, ...] = tuple(FLOWS)

# Restarts come quicker than production's default (1 s doubling to 60 s): a row lasts a minute or two.
POLICY = RestartPolicy(initial_delay=1.0, max_delay=8.0)
STOP_TIMEOUT_S = 20.0


class ChaosFlows:
    """The row's three flows, supervised (``SupervisedFlows``), with what the faults and the harness
    need: each flow's process to kill or signal, and an orchestrator that starts a supervision again
    once it gave up."""

    def __init__(
        self,
        state_dir: Path,
        env: Mapping[str, str],
        snapshot_seconds: float,
        bootstrap: str,
        kafka_config: Mapping[str, str] | None = None,
    ) -> None:
        self._state_dir = state_dir
        self._procs = {
            name: FlowProcess(name, state_dir, env, snapshot_seconds=snapshot_seconds) for name in FLOW_NAMES
        }
        self._dependencies = [Dependency("Kafka", bootstrap, kafka_probe(bootstrap, kafka_config))]
        self._flows = SupervisedFlows([self._supervisor(name) for name in FLOW_NAMES])
        # Called before a supervision that gave up is started again (the corrupt-state row's recovery).
        self.before_restart: Callable[[str], None] | None = None

    def _supervisor(self, name: str) -> Supervisor:
        return Supervisor(
            self._procs[name],
            self._dependencies,
            policy=POLICY,
            stop_timeout=STOP_TIMEOUT_S,
            pid_file=self._state_dir / "run" / f"flow-{name}.pid",
        )

    @property
    def restarts(self) -> int:
        """Flow processes started again after one died (by a supervisor or by ``keep_running``)."""
        return self._flows.restarts()

    def process(self, name: str) -> FlowProcess:
        return self._procs[name]

    def pid(self, name: str) -> int | None:
        proc = self._procs[name].process
        return None if proc is None or proc.poll() is not None else proc.pid

    def start(self, timeout: float) -> None:
        """Supervise every flow; wait until each has completed an epoch (inputs assigned, steps built)."""
        self._flows.start()
        deadline = time.monotonic() + timeout
        while not self._flows.ready():
            ended = self._flows.ended()
            if ended:
                raise RuntimeError(f"flow {ended[0].name} gave up during start-up:\n{ended[0].log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError("flows did not become ready in time")
            time.sleep(0.3)  # polling interval of the readiness check

    def kill(self, name: str) -> None:
        """SIGKILL to the flow's process group: the crash (its supervisor restarts it)."""
        self._procs[name].kill()

    def signal(self, name: str, signum: signal.Signals) -> None:
        pid = self.pid(name)
        if pid is not None:
            os.killpg(pid, signum)

    def keep_running(self) -> list[str]:
        """Start again every supervision that gave up; the names of those restarted."""
        restarted = []
        for flow in self._flows.ended():
            log.info("supervision of flow %s gave up; starting it again", flow.name)
            if self.before_restart is not None:
                self.before_restart(flow.name)
            self._flows.replace(self._supervisor(flow.name))
            restarted.append(flow.name)
        return restarted

    def committed(self, name: str) -> dict[str, int]:
        """``"<partition>-<topic>" -> next offset`` the flow has durably processed."""
        return self._procs[name].input_offsets()

    def log_tail(self, name: str, lines: int = 30) -> str:
        return self._procs[name].log_tail(lines)

    def stop(self) -> None:
        """Upstream first, the sink last: it commits what the others sent before they stopped."""
        self._flows.stop()
