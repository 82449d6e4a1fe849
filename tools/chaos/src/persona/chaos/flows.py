"""The three flows of a chaos row, each under the supervisor `persona run` uses.

Each flow runs under a ``persona.localstack.supervisor.Supervisor`` built exactly as `persona run`
builds it (``persona.cli.run_cmd.build_supervisor``; the CLI hands it in as a ``SupervisorFactory``,
since this tier cannot import the app): it waits for Kafka (and Cassandra, for enrich), starts the
flow, restarts it with the production backoff when it dies, and gives up at the production failure
budget. So the matrix tests the restart path production runs, not one of its own.

Each supervision runs in a thread of its own, which must live as long as the flow: a flow process
dies with the thread that started it (``FlowProcess``, its parent-death signal). Faults reach the
flow process itself, as an operator would: its pid is read from the supervisor's pid file and the
signal goes to its process group (the flow and any merge child it spawned).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from persona.localstack.procs import process_alive, read_pid
from persona.localstack.runner import FLOWS
from persona.localstack.supervised import SupervisedFlows as Supervised
from persona.localstack.supervisor import Supervisor

log = logging.getLogger(__name__)

FLOW_NAMES: tuple[str, ...] = tuple(FLOWS)

SupervisorFactory = Callable[[str, Mapping[str, str], Path], Supervisor]
"""``(flow, the flow's environment, its state directory) -> its supervisor``, as `persona run` makes it."""

KILL_REAPED_TIMEOUT_S = 30.0
POLL_S = 0.05


class SupervisedFlows:
    """The three flows of a row, supervised (``persona.localstack.supervised.SupervisedFlows``, the
    demo's too), with what the faults need: pids, kills, signals and the recovery procedure."""

    def __init__(
        self,
        make: SupervisorFactory,
        state_dir: Path,
        env: Mapping[str, str],
        flow_env: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """``env`` for every flow, and ``flow_env[name]`` over it for that flow only."""
        self._make = make
        self._state_dir = state_dir
        self._env = {name: {**env, **(flow_env or {}).get(name, {})} for name in FLOW_NAMES}
        self._supervised: Supervised | None = None
        # Wall-clock time of the last kill -9: a targeted kill comes a while after its injection began.
        self.last_kill_at: float | None = None

    # --- supervision ----------------------------------------------------------------------------------

    def _supervisor(self, name: str) -> Supervisor:
        return self._make(name, self._env[name], self._state_dir)

    @property
    def _flows(self) -> Supervised:
        if self._supervised is None:
            raise RuntimeError("the flows are not started")
        return self._supervised

    def start(self, timeout: float) -> None:
        """Supervise every flow; wait until each has completed an epoch (inputs assigned, steps built)."""
        self._supervised = Supervised([self._supervisor(name) for name in FLOW_NAMES])
        self._supervised.start()
        deadline = time.monotonic() + timeout
        while not all(self.committed(n) for n in FLOW_NAMES):
            ended = self.gave_up()
            if ended:
                name = next(iter(ended))
                raise RuntimeError(
                    f"the supervisor of flow {name} gave up during start-up:\n{self.log_tail(name)}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError("flows did not become ready in time")
            time.sleep(0.3)  # polling interval of the readiness check

    def gave_up(self) -> dict[str, int]:
        """Flows whose supervision ended without being asked to (too many failures): name -> exit."""
        return {} if self._supervised is None else self._supervised.gave_up()

    def restart_fresh(self, name: str) -> None:
        """The documented recovery from a corrupt flow state: stop the flow's supervision, remove
        its recovery directory (the enrich customer log inside it), supervise it again."""
        recovery_dir = self.recovery_dir(name)
        self._flows.end(name)
        shutil.rmtree(recovery_dir, ignore_errors=True)
        self._flows.replace(self._supervisor(name))

    def stop(self) -> None:
        # Upstream first, the sink last: it commits what the others sent before they stopped.
        if self._supervised is not None:
            self._supervised.stop()

    # --- the flow processes -----------------------------------------------------------------------------

    def supervisor(self, name: str) -> Supervisor:
        return self._flows.supervisor(name)

    @property
    def restarts(self) -> int:
        """Flow processes started again after one died (by a supervisor, or by a recovery)."""
        return 0 if self._supervised is None else self._supervised.restarts()

    def pid(self, name: str) -> int | None:
        """The running flow's pid, from its supervisor's pid file (None: not running)."""
        pid = read_pid(self.supervisor(name).pid_file)
        return pid if pid is not None and process_alive(pid) else None

    def kill(self, name: str) -> None:
        """``kill -9`` of the flow's process group (the crash); returns once its supervisor has
        reaped it, so what follows sees the flow gone."""
        pid = self.pid(name)
        if pid is None:
            log.warning("flow %s is not running: nothing to kill", name)
            return
        os.killpg(pid, signal.SIGKILL)
        self.last_kill_at = time.time()
        deadline = time.monotonic() + KILL_REAPED_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)  # succeeds until the supervisor has reaped it (a zombie answers)
            except ProcessLookupError:
                return
            time.sleep(POLL_S)
        log.warning("flow %s (pid %d) killed but not reaped within %.0f s", name, pid, KILL_REAPED_TIMEOUT_S)

    def signal(self, name: str, signum: signal.Signals) -> None:
        pid = self.pid(name)
        if pid is not None:
            os.killpg(pid, signum)

    def committed(self, name: str) -> dict[str, int]:
        """``"<partition>-<topic>" -> next offset`` the flow has durably processed."""
        return self.supervisor(name).flow.input_offsets()

    def recovery_dir(self, name: str) -> Path:
        return self.supervisor(name).flow.recovery_dir

    def customer_log_dir(self) -> Path:
        return self.supervisor("enrich").flow.customer_log_dir

    def log_tail(self, name: str, lines: int = 30) -> str:
        return self.supervisor(name).flow.log_tail(lines)
