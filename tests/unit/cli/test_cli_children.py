"""However a `persona` command ends (an exception, SIGTERM, even SIGKILL), the flow processes it
started do not outlive it; and what it creates under PERSONA_HOME is private."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import persona.cli.demo_cmd as demo_cmd
from persona.cli.main import main
from persona.localstack.procs import process_alive, read_pid
from persona.localstack.runner import FlowProcess

# A command that starts a "flow" (a sleeping Python: no Kafka needed), records its pid, then fails or
# hangs as the test says. It replaces `persona demo`, the command that once left its cdc flow behind.
CHILD = """
import sys, time
from dataclasses import dataclass
from pathlib import Path
from persona.localstack.runner import FlowProcess
from persona.localstack.procs import write_pid

@dataclass
class SleepingFlow(FlowProcess):
    def command(self):
        return [sys.executable, "-c", "import time; time.sleep(300)"]

def start_child(state: Path) -> None:
    flow = SleepingFlow("cdc", state, {})
    flow.start()
    write_pid(state / "child.pid", flow.process.pid)
"""


def poll(what: str, check: Callable[[], bool], timeout: float = 120.0) -> None:
    # A deadline, not a timing: generous, because a Python child starts slowly on a loaded machine.
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)  # poll interval, not a wait for a result


def test_a_command_that_raises_stops_the_flows_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSONA_HOME", str(tmp_path / "home"))
    namespace: dict[str, object] = {}
    exec(CHILD, namespace)  # the same child the subprocess tests start
    start_child = namespace["start_child"]
    assert callable(start_child)

    def failing_demo(_args: object) -> int:
        start_child(tmp_path)
        raise RuntimeError("the sink died")

    monkeypatch.setattr(demo_cmd, "run", failing_demo)
    with pytest.raises(RuntimeError, match="the sink died"):
        main(["demo"])
    pid = read_pid(tmp_path / "child.pid")
    assert pid is not None
    poll("the child to be gone", lambda: not process_alive(pid))


def test_the_flows_a_caller_started_before_a_command_are_left_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace: dict[str, object] = {}
    exec(CHILD, namespace)
    flow_class = namespace["SleepingFlow"]
    assert isinstance(flow_class, type) and issubclass(flow_class, FlowProcess)
    mine = flow_class("sink", tmp_path, {})
    mine.start()
    try:
        monkeypatch.setattr(demo_cmd, "run", lambda _args: 0)
        assert main(["demo"]) == 0
        assert mine.alive()
    finally:
        mine.stop()


def _cli_that_hangs(tmp_path: Path) -> subprocess.Popen[bytes]:
    script = CHILD + textwrap.dedent(f"""
        import persona.cli.demo_cmd as demo_cmd
        from persona.cli.main import main

        def hanging_demo(_args):
            start_child(Path({str(tmp_path)!r}))
            time.sleep(300)
            return 0

        demo_cmd.run = hanging_demo
        sys.exit(main(["demo"]))
    """)
    env = {**os.environ, "PERSONA_HOME": str(tmp_path / "home")}
    return subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE)


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGKILL, -signal.SIGKILL)]
)
def test_a_command_ended_by_a_signal_leaves_no_flow_behind(tmp_path: Path, signum: int, code: int) -> None:
    cli = _cli_that_hangs(tmp_path)
    try:
        poll(
            "the child to start",
            lambda: read_pid(tmp_path / "child.pid") is not None or cli.poll() is not None,
        )
        pid = read_pid(tmp_path / "child.pid")
        assert pid is not None, cli.communicate()[1].decode()
        assert process_alive(pid)
        cli.send_signal(signum)
        _, stderr = cli.communicate(timeout=60)
        assert cli.returncode == code, stderr.decode()
        # SIGTERM: the CLI stops its flows; SIGKILL: the kernel kills them with it (parent death signal).
        poll("the child to be gone", lambda: not process_alive(pid))
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.communicate()


def test_the_cli_creates_private_files_and_closes_an_open_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    (home / "logs").mkdir(parents=True)
    home.chmod(0o755)
    (home / "logs").chmod(0o755)
    monkeypatch.setenv("PERSONA_HOME", str(home))

    def writing_demo(_args: object) -> int:
        (home / "demo" / "state").mkdir(parents=True)
        (home / "demo" / "state" / "file").write_text("customer data")
        return 0

    monkeypatch.setattr(demo_cmd, "run", writing_demo)
    assert main(["demo"]) == 0
    assert home.stat().st_mode & 0o777 == 0o700
    assert (home / "logs").stat().st_mode & 0o777 == 0o700
    assert (home / "demo" / "state").stat().st_mode & 0o777 == 0o700
    assert (home / "demo" / "state" / "file").stat().st_mode & 0o777 == 0o600
    assert f"{home / 'logs'} was mode 0755" in caplog.text
