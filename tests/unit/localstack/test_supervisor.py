"""Supervision of one flow: the restart policy and the dependency wait (pure), and the supervisor
itself over real child processes that stand in for a flow (a Python snippet instead of Bytewax)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from persona.localstack.procs import process_alive, read_pid
from persona.localstack.runner import FlowProcess, describe_exit
from persona.localstack.supervisor import (
    EXIT_GAVE_UP,
    EXIT_STOPPED,
    Dependency,
    DependencyTimeout,
    FailureWindow,
    RestartPolicy,
    Supervisor,
    wait_for_dependencies,
)

FAST = RestartPolicy(initial_delay=0.01, max_delay=0.02, max_failures=3, window_seconds=300)


@dataclass
class ScriptFlow(FlowProcess):
    """A "flow" whose process runs ``script``: supervision without Kafka."""

    script: str = "import time; time.sleep(120)"

    def command(self) -> list[str]:
        return [sys.executable, "-c", self.script]


def poll(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)  # poll interval, not a wait for a result


@pytest.fixture
def persona_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.INFO, logger="persona")
    yield caplog


def test_the_delay_doubles_per_failure_up_to_the_maximum() -> None:
    policy = RestartPolicy(initial_delay=1, max_delay=5, max_failures=9, window_seconds=60)
    assert [policy.delay(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]


def test_the_nth_failure_within_the_window_exhausts_it() -> None:
    window = FailureWindow(RestartPolicy(max_failures=3, window_seconds=100))
    assert window.record(0, 1) == 1
    assert window.record(2, 3) == 2
    assert not window.exhausted()
    assert window.record(4, 5) == 3
    assert window.exhausted()


def test_failures_older_than_the_window_no_longer_count() -> None:
    window = FailureWindow(RestartPolicy(max_failures=3, window_seconds=100))
    window.record(0, 1)
    window.record(2, 3)
    assert window.record(150, 150.5) == 1
    assert not window.exhausted()


def test_a_run_that_outlived_the_window_clears_the_count() -> None:
    window = FailureWindow(RestartPolicy(max_failures=3, window_seconds=100))
    window.record(0, 1)
    window.record(2, 3)
    # Started within the window of the earlier failures, but stayed up longer than the window.
    assert window.record(3.5, 104) == 1


def test_exits_are_described_by_code_or_signal() -> None:
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(-99) == "killed by signal 99"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _down_for(clock: FakeClock, answers_at: float, step: float) -> Callable[[], str | None]:
    def probe() -> str | None:
        clock.now += step
        return None if clock.now >= answers_at else "connection refused"

    return probe


def test_waiting_logs_what_it_waits_for_every_few_seconds(persona_logs: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    kafka = Dependency("Kafka", "127.0.0.1:9", _down_for(clock, answers_at=12, step=1))
    assert wait_for_dependencies([kafka], threading.Event(), None, clock=clock, log_every=5, poll=0)
    waiting = [r.getMessage() for r in persona_logs.records if r.getMessage().startswith("waiting for")]
    # Down from t=1 to t=11: logged at 1, 6 and 11, then once that it answers.
    assert waiting == ["waiting for Kafka at 127.0.0.1:9: connection refused"] * 3
    assert "Kafka at 127.0.0.1:9 answers" in persona_logs.messages


def test_waiting_gives_up_at_the_limit_with_the_reason() -> None:
    clock = FakeClock()
    cassandra = Dependency("Cassandra", "h:9042", _down_for(clock, answers_at=1e9, step=1))
    with pytest.raises(
        DependencyTimeout, match=r"Cassandra at h:9042 did not answer within 30 s: connection refused"
    ):
        wait_for_dependencies([cassandra], threading.Event(), 30, clock=clock, poll=0)


def test_waiting_ends_without_error_when_stopped() -> None:
    stop = threading.Event()
    stop.set()
    down = Dependency("Kafka", "x", lambda: "down")
    assert not wait_for_dependencies([down], stop, None, poll=0)


def test_a_flow_failing_at_every_start_is_restarted_then_given_up(
    tmp_path: Path, persona_logs: pytest.LogCaptureFixture
) -> None:
    flow = ScriptFlow("cdc", tmp_path, {}, script="import sys; print('boom: no such topic'); sys.exit(3)")
    supervisor = Supervisor(flow, [], policy=FAST)
    assert supervisor.run() == EXIT_GAVE_UP
    assert supervisor.starts == FAST.max_failures
    text = persona_logs.text
    assert text.count("exited with code 3") >= FAST.max_failures
    assert "boom: no such topic" in text
    assert "failed 3 times within 300 s; giving up" in text
    assert not supervisor.pid_file.exists()


def _supervise(supervisor: Supervisor) -> tuple[threading.Thread, list[int]]:
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(supervisor.run()))
    thread.start()
    return thread, result


def test_a_killed_flow_is_restarted_and_a_stop_request_ends_it_with_0(
    tmp_path: Path, persona_logs: pytest.LogCaptureFixture
) -> None:
    flow = ScriptFlow("enrich", tmp_path, {})
    supervisor = Supervisor(flow, [], policy=FAST, stop_timeout=10)
    thread, result = _supervise(supervisor)
    try:
        poll("the first start", lambda: read_pid(supervisor.pid_file) is not None)
        first = read_pid(supervisor.pid_file)
        assert first is not None
        os.kill(first, signal.SIGKILL)
        poll("the restart", lambda: read_pid(supervisor.pid_file) not in (None, first))
        assert supervisor.starts == 2
        assert f"flow enrich (pid {first}) killed by SIGKILL" in persona_logs.text
        second = read_pid(supervisor.pid_file)
        assert second is not None
    finally:
        supervisor.request_stop()
        thread.join(60)
    assert result == [EXIT_STOPPED]
    assert not process_alive(second)
    assert not supervisor.pid_file.exists()


def test_the_recovery_store_is_made_once_and_private(tmp_path: Path) -> None:
    flow = ScriptFlow("sink", tmp_path / "state", {}, script="pass")
    flow.start()
    flow.stop()
    part = flow.recovery_dir / "part-0.sqlite3"
    made = part.stat()
    flow.start()
    flow.stop()
    assert part.stat().st_ino == made.st_ino, "a second start re-initialized the recovery store"
    for directory in (flow.state_dir, flow.recovery_dir, flow.log_path.parent):
        assert directory.stat().st_mode & 0o777 == 0o700, directory
    assert not list(flow.recovery_dir.parent.glob(".*")), "the scratch directory was left behind"
