"""The secured local stack's renderings: the stack's configs with overrides, and errors without secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from persona.localstack import StackError, StackSettings
from persona.localstack.configs import render_kafka_properties
from persona.localstack.secure import (
    Certificates,
    _run,
    cassandra_yaml_overrides,
    kafka_overrides,
    with_overrides,
)
from persona.settings.secret import Secret


def _settings(tmp_path: Path) -> StackSettings:
    return StackSettings(home=tmp_path, warehouse=tmp_path / "w", jar_cache=tmp_path / "j", repo_root=None)


def test_overrides_replace_keys_once_and_keep_the_rest(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    certs = Certificates(tmp_path / "ca.pem", tmp_path / "k.p12", tmp_path / "t.p12", Secret("store-pw"))
    rendered = with_overrides(
        render_kafka_properties(settings), kafka_overrides(settings, certs, Secret("b")), "="
    )
    lines = [line for line in rendered.splitlines() if not line.startswith("#")]
    keys = [line.split("=", 1)[0] for line in lines]
    assert len(keys) == len(set(keys))
    values = dict(line.split("=", 1) for line in lines)
    assert (
        values["listeners"]
        == f"SASL_SSL://127.0.0.1:{settings.kafka_port},CONTROLLER://127.0.0.1:{settings.kafka_controller_port}"
    )
    assert values["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT"
    assert values["auto.create.topics.enable"] == "false"  # the stack's own settings stay


def test_cassandra_requires_password_and_tls(tmp_path: Path) -> None:
    certs = Certificates(tmp_path / "ca.pem", tmp_path / "k.p12", tmp_path / "t.p12", Secret("store-pw"))
    text = cassandra_yaml_overrides(certs)
    assert "class_name: org.apache.cassandra.auth.PasswordAuthenticator" in text
    assert "optional: false" in text and "enabled: true" in text


def test_a_failed_tool_run_does_not_repeat_its_arguments() -> None:
    with pytest.raises(StackError) as error:
        _run(["false", "-storepass", "hunter2"], "making the truststore")
    assert "hunter2" not in str(error.value) and "making the truststore failed" in str(error.value)
