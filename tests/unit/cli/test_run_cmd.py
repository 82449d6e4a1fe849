"""How `persona run` builds its supervisor from the environment (nothing is started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from persona.cli.main import main
from persona.cli.run_cmd import build_supervisor, flow_dependencies
from persona.localstack.supervisor import EXIT_NOT_STARTED, RestartPolicy
from persona.settings import PipelineSettings, SettingsError


def test_every_flow_waits_for_kafka_and_enrich_for_cassandra_too() -> None:
    settings = PipelineSettings(kafka_bootstrap="k:1", cassandra_hosts=("a", "b"), cassandra_port=7)
    assert [(d.name, d.address) for d in flow_dependencies("cdc", settings)] == [("Kafka", "k:1")]
    assert [(d.name, d.address) for d in flow_dependencies("sink", settings)] == [("Kafka", "k:1")]
    assert [(d.name, d.address) for d in flow_dependencies("enrich", settings)] == [
        ("Kafka", "k:1"),
        ("Cassandra", "a:7,b:7"),
    ]


def test_the_supervisor_takes_its_policy_and_places_from_the_environment(tmp_path: Path) -> None:
    env = {
        "PERSONA_HOME": str(tmp_path),
        "PERSONA_KAFKA_PORT": "19092",
        "PERSONA_RESTART_MAX": "7",
        "PERSONA_RESTART_WINDOW": "60",
        "PERSONA_RESTART_DELAY": "0.5",
        "PERSONA_RESTART_MAX_DELAY": "8",
        "PERSONA_WAIT_TIMEOUT": "90",
        "PERSONA_STOP_TIMEOUT": "12",
        "PERSONA_COMMIT_INTERVAL": "3",
    }
    supervisor = build_supervisor("sink", env)
    assert supervisor.policy == RestartPolicy(
        initial_delay=0.5, max_delay=8, max_failures=7, window_seconds=60
    )
    assert (supervisor.wait_limit, supervisor.stop_timeout) == (90, 12)
    flow = supervisor.flow
    assert flow.recovery_dir == tmp_path / "flows" / "recovery" / "sink"
    assert supervisor.pid_file == tmp_path / "flows" / "run" / "flow-sink.pid"
    assert flow.snapshot_seconds == 3
    # The local stack's addresses fill in what the environment leaves unset, and nothing more.
    assert flow.env["PERSONA_WAREHOUSE"] == str(tmp_path / "warehouse")
    assert flow.env["PERSONA_KAFKA_BOOTSTRAP"] == "127.0.0.1:19092"
    given = build_supervisor("sink", {**env, "PERSONA_KAFKA_BOOTSTRAP": "broker:9092"})
    assert "PERSONA_KAFKA_BOOTSTRAP" not in given.flow.env
    assert [d.address for d in given.dependencies] == ["broker:9092"]
    # The local stack's flows share a host: a metrics port each; a container's flow uses the port as is.
    assert flow.port_per_flow and not given.flow.port_per_flow


def test_defaults_wait_forever(tmp_path: Path) -> None:
    supervisor = build_supervisor("cdc", {"PERSONA_HOME": str(tmp_path)})
    assert supervisor.wait_limit is None
    assert supervisor.policy == RestartPolicy()


def test_a_bad_setting_is_exit_2_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SettingsError, match="PERSONA_RESTART_MAX"):
        build_supervisor("cdc", {"PERSONA_HOME": str(tmp_path), "PERSONA_RESTART_MAX": "0"})
    monkeypatch.setenv("PERSONA_HOME", str(tmp_path))
    monkeypatch.setenv("PERSONA_RESTART_WINDOW", "soon")
    assert main(["run", "cdc"]) == EXIT_NOT_STARTED
    assert "PERSONA_RESTART_WINDOW is not a number: 'soon'" in capsys.readouterr().err
