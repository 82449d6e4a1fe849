"""How `persona demo` configures its clients and supervises its flows (no flow process is started)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from persona.cli.demo_cmd import DemoConfig
from persona.localstack import StackSettings
from persona.localstack.runner import FlowProcess
from persona.localstack.supervised import SupervisedFlows
from persona.localstack.supervisor import EXIT_NOT_STARTED, EXIT_STOPPED, Dependency, Supervisor

PASSWORD = "demo-s3cret"
SECURED = {
    "PERSONA_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "PERSONA_KAFKA_SASL_USERNAME": "demo",
    "PERSONA_KAFKA_SASL_PASSWORD": PASSWORD,
    "PERSONA_CASSANDRA_USERNAME": "demo",
    "PERSONA_CASSANDRA_PASSWORD": PASSWORD,
}


def _demo(tmp_path: Path, **extra: str) -> tuple[dict[str, str], DemoConfig]:
    env = {"PERSONA_HOME": str(tmp_path), "PERSONA_KAFKA_PORT": "19092", **SECURED, **extra}
    return env, DemoConfig.from_env(env, StackSettings.from_env(env), commit_interval=3)


def test_the_demos_clients_have_the_security_settings(tmp_path: Path) -> None:
    _env, demo = _demo(tmp_path)
    config = demo.kafka_config()
    assert (config["security.protocol"], config["sasl.username"], config["sasl.password"]) == (
        "SASL_PLAINTEXT",
        "demo",
        PASSWORD,
    )
    assert demo.settings.cassandra_security.credentials() == ("demo", PASSWORD)


def test_the_demo_runs_on_the_local_stack_whatever_the_environment_names(tmp_path: Path) -> None:
    _env, demo = _demo(tmp_path, PERSONA_KAFKA_BOOTSTRAP="elsewhere:9092")
    assert demo.settings.kafka_bootstrap == "127.0.0.1:19092"
    assert demo.settings.commit_interval_seconds == 3
    assert PASSWORD not in demo.flow_env.values()


def test_each_flow_is_supervised_as_persona_run_does_with_the_demos_state_and_variables(
    tmp_path: Path,
) -> None:
    env, demo = _demo(tmp_path, PERSONA_RESTART_MAX="4")
    state = tmp_path / "demo"
    supervisors = demo.supervisors(env, state)
    assert [s.flow.name for s in supervisors] == ["cdc", "enrich", "sink"]
    for s in supervisors:
        assert s.flow.recovery_dir == state / "recovery" / s.flow.name
        assert s.pid_file == state / "run" / f"flow-{s.flow.name}.pid"
        assert s.flow.env["PERSONA_KAFKA_BOOTSTRAP"] == "127.0.0.1:19092"
        assert s.flow.env["PERSONA_COMMIT_INTERVAL"] == "3"
        # The flow reads its secrets from the variables it inherits, never from its own env mapping.
        assert PASSWORD not in s.flow.env.values()
        assert s.policy.max_failures == 4
        assert s.dependencies[0].address == "127.0.0.1:19092"
    assert supervisors[2].flow.snapshot_seconds == 3
    assert [d.name for d in supervisors[1].dependencies] == ["Kafka", "Cassandra"]


def _supervisor(tmp_path: Path, name: str, wait_limit: float | None) -> Supervisor:
    # A service that never answers: the supervisor waits (or gives up waiting) and starts nothing.
    never = Dependency("Kafka", "nowhere:1", lambda: "not answering")
    return Supervisor(FlowProcess(name, tmp_path, {}), [never], wait_limit=wait_limit, stop_timeout=1)


def _wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)  # polling interval
    return False


def test_a_supervision_that_ends_unasked_is_reported_and_stop_ends_the_others(tmp_path: Path) -> None:
    flows = SupervisedFlows(
        [
            _supervisor(tmp_path, "cdc", wait_limit=None),
            _supervisor(tmp_path, "enrich", wait_limit=0),
            _supervisor(tmp_path, "sink", wait_limit=None),
        ]
    )
    assert flows.ended() == []  # not started: nothing has ended
    flows.start()
    assert _wait_until(lambda: [f.name for f in flows.ended()] == ["enrich"])
    assert flows.exit_codes == {"enrich": EXIT_NOT_STARTED}
    assert not flows.ready()
    flows.stop()
    assert flows.ended() == []  # stopped on request, not ended
    assert flows.exit_codes == {"enrich": EXIT_NOT_STARTED, "cdc": EXIT_STOPPED, "sink": EXIT_STOPPED}
