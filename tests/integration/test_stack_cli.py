"""`persona stack ...` as a user runs it: a separate process, its output and its exit code."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from persona.localstack import StackSettings

pytestmark = pytest.mark.integration


def _persona(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "persona.cli.main", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else dict(os.environ),
        cwd=cwd,
        timeout=300,
        check=False,
    )


def _free_ports(count: int) -> list[int]:
    """Distinct currently free ports (all held open while choosing, so none repeats)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def test_status_reports_both_services_healthy(stack: StackSettings) -> None:
    result = _persona("stack", "status", cwd=stack.repo_root)
    assert result.returncode == 0, result.stdout + result.stderr
    # SERVICE PORT PID HEALTH DETAIL...
    rows = {fields[0]: fields for fields in (line.split() for line in result.stdout.splitlines()[1:3])}
    assert (rows["kafka"][1], rows["kafka"][3]) == (str(stack.kafka_port), "healthy")
    assert (rows["cassandra"][1], rows["cassandra"][3]) == (str(stack.cassandra_port), "healthy")
    assert "Cassandra 5.0" in result.stdout
    assert str(stack.warehouse) in result.stdout


def test_init_twice_creates_nothing_the_second_time(stack: StackSettings, tmp_path: Path) -> None:
    # A fresh warehouse, so the first run has Paimon tables to create; topics and the Cassandra
    # table already exist (the stack fixture ran init).
    env = dict(os.environ, PERSONA_WAREHOUSE=str(tmp_path / "warehouse"))
    first = _persona("stack", "init", env=env, cwd=stack.repo_root)
    second = _persona("stack", "init", env=env, cwd=stack.repo_root)
    assert first.returncode == 0, first.stdout + first.stderr
    assert second.returncode == 0, second.stdout + second.stderr
    assert "created  paimon table persona.marketing_segments" in first.stdout
    assert "exists   kafka topic behavior_events" in first.stdout
    assert "created" not in second.stdout.replace("0 created", "")
    assert "init: 0 created," in second.stdout


def test_logs_prints_the_requested_tail(stack: StackSettings) -> None:
    result = _persona("stack", "logs", "kafka", "-n", "5", cwd=stack.repo_root)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 5


def test_errors_are_one_message_without_traceback(tmp_path: Path) -> None:
    # No services needed: the missing Java is detected before anything starts.
    kafka, controller, cassandra, storage, mariadb, connect, prometheus, s3, nessie, trino, history = (
        _free_ports(11)
    )
    env = dict(
        os.environ,
        PERSONA_HOME=str(tmp_path / "home"),
        PERSONA_JAVA=str(tmp_path / "no-such-java"),
        PERSONA_KAFKA_PORT=str(kafka),
        PERSONA_KAFKA_CONTROLLER_PORT=str(controller),
        PERSONA_CASSANDRA_PORT=str(cassandra),
        PERSONA_CASSANDRA_STORAGE_PORT=str(storage),
        PERSONA_MARIADB_PORT=str(mariadb),
        PERSONA_CONNECT_PORT=str(connect),
        PERSONA_PROMETHEUS_PORT=str(prometheus),
        PERSONA_S3_PORT=str(s3),
        PERSONA_NESSIE_PORT=str(nessie),
        PERSONA_TRINO_PORT=str(trino),
        PERSONA_ICEBERG_REST_PORT=str(history),
    )
    result = _persona("stack", "up", env=env)
    assert result.returncode == 1
    assert "Java 17+ is required" in result.stderr
    assert "Traceback" not in result.stderr
