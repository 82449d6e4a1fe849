"""Supervision of one flow process: wait for its services, start it, restart it with backoff.

``persona run`` (the entry point a container uses) wraps :class:`Supervisor`; ``persona chaos`` calls it
directly. The restart policy is pure (:class:`RestartPolicy`, :class:`FailureWindow`): a flow that dies
is restarted after ``initial_delay`` doubled for every further failure within ``window_seconds``, up
to ``max_delay``; the ``max_failures``-th failure within the window ends supervision with exit code 1.
A run that stayed up longer than the window clears the count, so a flow that dies once a day is
restarted forever. Each restart resumes from the flow's recovery store.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from persona.kafka import KafkaAdmin, KafkaAdminError
from persona.localstack.procs import tail_lines, write_pid
from persona.localstack.runner import FlowProcess, describe_exit
from persona.settings.registry import (
    RESTART_DELAY,
    RESTART_MAX,
    RESTART_MAX_DELAY,
    RESTART_WINDOW,
    STOP_TIMEOUT,
    WAIT_TIMEOUT,
)

log = logging.getLogger(__name__)

EXIT_STOPPED = 0
EXIT_GAVE_UP = 1
EXIT_NOT_STARTED = 2
"""Exit codes of a supervision: stopped on request; too many failures; a service never answered."""

# How often a wait for a service says it is still waiting, and how often it asks again.
WAIT_LOG_SECONDS = 5.0
WAIT_POLL_SECONDS = 1.0
# Lines of the flow's output quoted when it dies.
DEATH_TAIL_LINES = 20

Probe = Callable[[], str | None]
"""Asks a service once: None when it answers, else why not. The Cassandra one is the CLI's
(``persona.cli.run_cmd``), made with the inventory adapter's client, which this package does not use."""


@dataclass(frozen=True)
class RestartPolicy:
    initial_delay: float = RESTART_DELAY.default
    max_delay: float = RESTART_MAX_DELAY.default
    max_failures: int = RESTART_MAX.default
    window_seconds: float = RESTART_WINDOW.default

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RestartPolicy:
        return cls(
            initial_delay=RESTART_DELAY.get(env),
            max_delay=RESTART_MAX_DELAY.get(env),
            max_failures=RESTART_MAX.get(env),
            window_seconds=RESTART_WINDOW.get(env),
        )

    def delay(self, failures: int) -> float:
        """Seconds before the restart that follows the ``failures``-th failure in the window."""
        return min(self.max_delay, self.initial_delay * 2.0 ** max(failures - 1, 0))


class FailureWindow:
    """The failures of one flow that count against the policy: those within the last window."""

    def __init__(self, policy: RestartPolicy) -> None:
        self._policy = policy
        self._ends: deque[float] = deque()

    def record(self, started: float, ended: float) -> int:
        """Count a run from ``started`` to ``ended`` (monotonic seconds) that failed; how many
        failures the window holds now. A run that outlived the window starts the count again."""
        window = self._policy.window_seconds
        if ended - started > window:
            self._ends.clear()
        self._ends.append(ended)
        while self._ends and self._ends[0] < ended - window:
            self._ends.popleft()
        return len(self._ends)

    def exhausted(self) -> bool:
        return len(self._ends) >= self._policy.max_failures


@dataclass(frozen=True)
class Dependency:
    """A service a flow needs before it can start: what it is, where, and how to ask it."""

    name: str
    address: str
    probe: Probe


def kafka_probe(bootstrap: str, config: Mapping[str, str] | None = None, timeout: float = 3.0) -> Probe:
    """Asks for the cluster's metadata with the flows' client ``config`` (security settings), so a
    secured cluster is probed as the flows will connect to it."""
    client_config = dict(config or {})

    def ask() -> str | None:
        try:
            # librdkafka would print every refused connection (20 a second) to stderr, drowning the
            # one line per few seconds that says what is awaited and why.
            KafkaAdmin(bootstrap, **client_config, log_level=0).cluster(timeout=timeout)
        except KafkaAdminError as error:
            return str(error)
        return None

    return ask


class DependencyTimeout(RuntimeError):
    """A service did not answer within the wait limit."""


def wait_for_dependencies(
    dependencies: Sequence[Dependency],
    stop: threading.Event,
    limit: float | None = WAIT_TIMEOUT.default,
    *,
    clock: Callable[[], float] = time.monotonic,
    log_every: float = WAIT_LOG_SECONDS,
    poll: float = WAIT_POLL_SECONDS,
) -> bool:
    """Wait until every dependency answers (True) or ``stop`` is set (False); raise
    :class:`DependencyTimeout` after ``limit`` seconds (None: wait forever), logging every
    ``log_every`` seconds what is still awaited and why."""
    started = clock()
    for dependency in dependencies:
        last_logged: float | None = None
        while True:
            error = dependency.probe()
            if error is None:
                if last_logged is not None:
                    log.info("%s at %s answers", dependency.name, dependency.address)
                break
            now = clock()
            if limit is not None and now - started >= limit:
                raise DependencyTimeout(
                    f"{dependency.name} at {dependency.address} did not answer within {limit:g} s: {error}"
                )
            if last_logged is None or now - last_logged >= log_every:
                log.warning("waiting for %s at %s: %s", dependency.name, dependency.address, error)
                last_logged = now
            if stop.wait(poll):
                return False
    return True


class Supervisor:
    """Runs one flow until :meth:`request_stop`: waits for its services, starts it, restarts it.

    :meth:`request_stop` only sets an event, so a signal handler or another thread may call it; the
    loop in :meth:`run` then stops the flow (SIGINT, then SIGKILL after ``stop_timeout``) and returns.
    The child's pid is written to ``pid_file`` while it runs.
    """

    def __init__(
        self,
        flow: FlowProcess,
        dependencies: Sequence[Dependency],
        *,
        policy: RestartPolicy | None = None,
        wait_limit: float | None = WAIT_TIMEOUT.default,
        stop_timeout: float = STOP_TIMEOUT.default,
        pid_file: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.flow = flow
        self.dependencies = list(dependencies)
        self.policy = policy or RestartPolicy()
        self.wait_limit = wait_limit
        self.stop_timeout = stop_timeout
        self.pid_file = pid_file or flow.state_dir / "run" / f"flow-{flow.label}.pid"
        self.starts = 0
        self._clock = clock
        self._stop = threading.Event()

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> int:
        """Supervise until stopped (0), too many failures (1) or a service never answered (2)."""
        failures = FailureWindow(self.policy)
        try:
            while not self.stopping:
                try:
                    if not wait_for_dependencies(
                        self.dependencies, self._stop, self.wait_limit, clock=self._clock
                    ):
                        break
                except DependencyTimeout as error:
                    log.error("flow %s not started: %s", self.flow.name, error)
                    return EXIT_NOT_STARTED
                started = self._clock()
                reason = self._run_once()
                if reason is None:
                    break
                count = failures.record(started, self._clock())
                if failures.exhausted():
                    log.error(
                        "flow %s failed %d times within %g s; giving up (last: %s)",
                        self.flow.name,
                        count,
                        self.policy.window_seconds,
                        reason,
                    )
                    return EXIT_GAVE_UP
                delay = self.policy.delay(count)
                log.warning(
                    "restarting flow %s in %.1f s (failure %d of %d allowed within %g s)",
                    self.flow.name,
                    delay,
                    count,
                    self.policy.max_failures,
                    self.policy.window_seconds,
                )
                if self._stop.wait(delay):
                    break
        finally:
            self.flow.stop(self.stop_timeout)
            self.pid_file.unlink(missing_ok=True)
        log.info("flow %s stopped", self.flow.name)
        return EXIT_STOPPED

    def _run_once(self) -> str | None:
        """Start the flow and wait for it to end; why it failed, or None when stopped on request."""
        self.starts += 1
        try:
            self.flow.start()
        except (OSError, subprocess.CalledProcessError) as error:
            detail = getattr(error, "stderr", None) or b""
            reason = f"could not start: {error} {detail.decode(errors='replace').strip()}".strip()
            log.error("flow %s %s", self.flow.name, reason)
            return reason
        process = self.flow.process
        assert process is not None
        write_pid(self.pid_file, process.pid)
        log.info("flow %s started: pid %d (start %d)", self.flow.name, process.pid, self.starts)
        while not self.stopping:
            try:
                returncode = process.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                continue
            self.flow.stop(self.stop_timeout)  # reaps the group and finishes copying its output
            ended = describe_exit(returncode)
            tail = tail_lines(self.flow.log_path, DEATH_TAIL_LINES)
            log.error(
                "flow %s (pid %d) %s; last lines of %s:\n%s",
                self.flow.name,
                process.pid,
                ended,
                self.flow.log_path,
                "\n".join(tail),
            )
            # The last line a dying Python writes is its exception: the cause, for the give-up line.
            last = next((line.strip() for line in reversed(tail) if line.strip()), "")
            return f"{ended}: {last[:500]}" if last else ended
        return None
