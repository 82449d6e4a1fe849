"""The three flows of a chaos row, and who restarts them.

``SupervisedFlows`` is the one place that knows how a flow is run and brought back: today each
flow is a ``persona.localstack.runner.FlowProcess`` and ``keep_running`` plays the supervisor
(a dead flow is started again the next time the harness looks, about every 0.2 s). When
``persona run`` supervision lands (issue 17, a Supervisor in persona.localstack), this class starts
the flows through it and ``keep_running`` only reports; the rows and the harness do not change.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from persona.localstack.runner import FLOWS, FlowProcess

log = logging.getLogger(__name__)

FLOW_NAMES: tuple[str, ...] = tuple(FLOWS)


class SupervisedFlows:
    def __init__(self, state_dir: Path, env: Mapping[str, str], snapshot_seconds: float) -> None:
        self._procs = {
            name: FlowProcess(name, state_dir, env, snapshot_seconds=snapshot_seconds) for name in FLOW_NAMES
        }
        self.restarts = 0
        # name -> (restarts in a row, when the last one was): a flow that dies again at once is
        # started after 1, 2, 4, 8 then every 10 s, not in a tight loop.
        self._backoff: dict[str, tuple[int, float]] = {}
        # Called before a dead flow is started again (the corrupt-state row's recovery step).
        self.before_restart: Callable[[str], None] | None = None

    def process(self, name: str) -> FlowProcess:
        return self._procs[name]

    def pid(self, name: str) -> int | None:
        proc = self._procs[name].process
        return None if proc is None or proc.poll() is not None else proc.pid

    def start(self, timeout: float) -> None:
        """Start every flow; wait until each has completed an epoch (inputs assigned, steps built)."""
        for proc in self._procs.values():
            proc.start()
        deadline = time.monotonic() + timeout
        while not all(self.committed(n) for n in FLOW_NAMES):
            dead = [p for p in self._procs.values() if not p.alive()]
            if dead:
                raise RuntimeError(f"flow {dead[0].name} exited during start-up:\n{dead[0].log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError("flows did not become ready in time")
            time.sleep(0.3)  # polling interval of the readiness check

    def kill(self, name: str) -> None:
        """SIGKILL to the flow's process group: the crash."""
        self._procs[name].kill()

    def signal(self, name: str, signum: signal.Signals) -> None:
        pid = self.pid(name)
        if pid is not None:
            os.killpg(pid, signum)

    def keep_running(self) -> list[str]:
        """Start every flow that died again; the names of those restarted."""
        restarted = []
        for name, proc in self._procs.items():
            if proc.process is not None and not proc.alive():
                count, last = self._backoff.get(name, (0, 0.0))
                now = time.monotonic()
                if now - last > 60:  # it ran a good while: a new failure, not a crash loop
                    count = 0
                if now - last < min(2.0**count, 10.0) and count:
                    continue
                self._backoff[name] = (count + 1, now)
                code = proc.process.returncode
                log.info("flow %s exited (%s); starting it again", name, code)
                if self.before_restart is not None:
                    self.before_restart(name)
                proc.start()
                self.restarts += 1
                restarted.append(name)
        return restarted

    def committed(self, name: str) -> dict[str, int]:
        """``"<partition>-<topic>" -> next offset`` the flow has durably processed."""
        return self._procs[name].input_offsets()

    def log_tail(self, name: str, lines: int = 30) -> str:
        return self._procs[name].log_tail(lines)

    def stop(self) -> None:
        # Upstream first, the sink last: it commits what the others sent before they stopped.
        for name in FLOW_NAMES:
            self._procs[name].stop()
