"""Port-taken detection, log tails, pid files and classpath cache keys."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from persona.localstack import StackError, StackSettings
from persona.localstack.jars import classpath_dir, pom_digest, resolve_classpath
from persona.localstack.procs import (
    busy_ports,
    listening_inodes,
    port_is_free,
    read_pid,
    summarize_command,
    tail_lines,
    write_pid,
)

# Two listeners (0A) on 9092 (0x2384) and 9042 (0x2352), one established connection from 9092.
PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2384 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1
   1: 0100007F:2352 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4343 1
   2: 0100007F:2384 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4444 1
"""


def test_busy_ports_reports_only_taken_ones() -> None:
    taken = {9092, 7000}
    ports = {"kafka": 9092, "kafka controller": 9093, "cassandra": 9042, "cassandra storage": 7000}
    assert busy_ports(ports, is_free=lambda port: port not in taken) == {
        "kafka": 9092,
        "cassandra storage": 7000,
    }


def test_listening_inodes_only_counts_listeners_on_the_port() -> None:
    assert listening_inodes(PROC_NET_TCP, 9092) == {4242}
    assert listening_inodes(PROC_NET_TCP, 9042) == {4343}
    assert listening_inodes(PROC_NET_TCP, 7000) == set()


def test_port_is_free_sees_a_listener() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert not port_is_free(port)
    assert port_is_free(port)


def test_summarize_command_keeps_what_identifies_a_jvm() -> None:
    command = ["/usr/bin/java", "-Xmx1g", "-cp", "/jars/*", "kafka.Kafka", "/h/server.properties"]
    assert summarize_command(command) == "java … kafka.Kafka /h/server.properties"
    assert summarize_command(["nc", "-l", "9092"]) == "nc -l 9092"
    assert summarize_command(["x" * 300], limit=10) == "x" * 9 + "…"


def test_tail_lines(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    log.write_text("".join(f"line {i}\n" for i in range(100_000)))
    assert tail_lines(log, 3) == ["line 99997", "line 99998", "line 99999"]
    assert tail_lines(log, 0) == []
    assert tail_lines(tmp_path / "missing.log", 5) == []


def test_pid_files(tmp_path: Path) -> None:
    pid_file = tmp_path / "run" / "kafka.pid"
    assert read_pid(pid_file) is None
    write_pid(pid_file, 1234)
    assert read_pid(pid_file) == 1234
    pid_file.write_text("garbage")
    assert read_pid(pid_file) is None


def _settings_with_pom(tmp_path: Path, pom: str, mvn: str = "mvn") -> StackSettings:
    (tmp_path / "infra" / "local" / "kafka").mkdir(parents=True, exist_ok=True)
    (tmp_path / "infra" / "local" / "kafka" / "pom.xml").write_text(pom)
    return StackSettings(
        home=tmp_path / "h",
        warehouse=tmp_path / "w",
        jar_cache=tmp_path / "jars",
        repo_root=tmp_path,
        mvn=mvn,
    )


def test_classpath_directory_follows_the_pom_content(tmp_path: Path) -> None:
    first = classpath_dir(_settings_with_pom(tmp_path, "<project>1</project>"), "kafka")
    second = classpath_dir(_settings_with_pom(tmp_path, "<project>2</project>"), "kafka")
    assert first != second
    assert first.name == f"kafka-{pom_digest(b'<project>1</project>')}"


def test_missing_maven_is_a_clear_error(tmp_path: Path) -> None:
    settings = _settings_with_pom(tmp_path, "<project/>", mvn=str(tmp_path / "no-mvn"))
    with pytest.raises(StackError, match=r"Maven .* was not found"):
        resolve_classpath(settings, "kafka", progress=lambda _message: None)


def test_a_resolved_classpath_is_reused_without_maven(tmp_path: Path) -> None:
    settings = _settings_with_pom(tmp_path, "<project/>", mvn=str(tmp_path / "no-mvn"))
    target = classpath_dir(settings, "kafka")
    target.mkdir(parents=True)
    (target / ".resolved").write_text("")
    assert resolve_classpath(settings, "kafka", progress=lambda _message: None) == target
