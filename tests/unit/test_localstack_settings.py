"""StackSettings.from_env: defaults, overrides and validation, without touching any service."""

from __future__ import annotations

from pathlib import Path

import pytest

from persona.localstack import StackError, StackSettings
from persona.localstack.settings import find_repo_root
from persona.localstack.stack import java_major_version
from persona.settings.setting import heap_megabytes


def _checkout(root: Path) -> Path:
    (root / "infra" / "local" / "kafka").mkdir(parents=True)
    (root / "infra" / "local" / "kafka" / "pom.xml").write_text("<project/>")
    return root


def test_defaults_live_under_the_checkout(tmp_path: Path) -> None:
    root = _checkout(tmp_path / "repo")
    cwd = root / "flows" / "enrich"
    cwd.mkdir(parents=True)
    settings = StackSettings.from_env({"HOME": str(tmp_path / "user"), "PATH": ""}, cwd=cwd)
    assert settings.repo_root == root
    assert settings.home == root / ".persona"
    assert settings.warehouse == root / ".persona" / "warehouse"
    assert settings.jar_cache == tmp_path / "user" / ".cache" / "persona" / "jars"
    assert (settings.kafka_port, settings.kafka_controller_port) == (9092, 9093)
    assert (settings.cassandra_port, settings.cassandra_storage_port) == (9042, 7000)
    assert settings.partitions == 4
    assert (settings.kafka_heap, settings.cassandra_heap) == ("512M", "768M")
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.cassandra_contact == ("127.0.0.1", 9042)
    assert settings.infra_dir == root / "infra" / "local"
    assert settings.maven_repo is None


def test_environment_overrides(tmp_path: Path) -> None:
    java_home = tmp_path / "jdk"
    (java_home / "bin").mkdir(parents=True)
    (java_home / "bin" / "java").write_text("")
    env = {
        "PERSONA_HOME": str(tmp_path / "h"),
        "PERSONA_KAFKA_PORT": "19092",
        "PERSONA_CASSANDRA_PORT": "19042",
        "PERSONA_PARTITIONS": "8",
        "PERSONA_WAREHOUSE": str(tmp_path / "wh"),
        "PERSONA_JAR_CACHE": str(tmp_path / "jars"),
        "PERSONA_MAVEN_REPO": str(tmp_path / "m2"),
        "PERSONA_CASSANDRA_HEAP": "1G",
        "JAVA_HOME": str(java_home),
        "PATH": "",
    }
    settings = StackSettings.from_env(env, cwd=tmp_path)
    assert settings.home == tmp_path / "h"
    assert settings.kafka_bootstrap == "127.0.0.1:19092"
    assert settings.cassandra_contact == ("127.0.0.1", 19042)
    assert settings.partitions == 8
    assert settings.warehouse == tmp_path / "wh"
    assert settings.jar_cache == tmp_path / "jars"
    assert settings.maven_repo == tmp_path / "m2"
    assert settings.cassandra_heap == "1G"
    assert settings.java == str(java_home / "bin" / "java")
    assert StackSettings.from_env({**env, "PERSONA_JAVA": "/opt/java"}, cwd=tmp_path).java == "/opt/java"


def test_relative_paths_are_taken_from_the_working_directory(tmp_path: Path) -> None:
    env = {"PERSONA_HOME": "rel/home", "PERSONA_WAREHOUSE": "wh", "PATH": ""}
    settings = StackSettings.from_env(env, cwd=tmp_path)
    assert settings.home == tmp_path / "rel" / "home"
    assert settings.warehouse == tmp_path / "wh"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PERSONA_KAFKA_PORT": "not-a-port"}, "not an integer"),
        ({"PERSONA_KAFKA_PORT": "70000"}, "out of range"),
        ({"PERSONA_CASSANDRA_PORT": "9092"}, "distinct"),
        ({"PERSONA_CASSANDRA_HEAP": "2G"}, "exceeds"),
        ({"PERSONA_CASSANDRA_HEAP": "lots"}, "invalid heap size"),
        ({"PERSONA_PARTITIONS": "0"}, "at least 1"),
    ],
)
def test_invalid_settings_raise_a_stack_error(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(StackError, match=message):
        StackSettings.from_env({"PERSONA_HOME": str(tmp_path), "PATH": "", **env}, cwd=tmp_path)


def test_missing_checkout_is_reported_only_when_the_infra_is_needed(tmp_path: Path) -> None:
    settings = StackSettings(
        home=tmp_path / "h", warehouse=tmp_path / "w", jar_cache=tmp_path / "j", repo_root=None
    )
    with pytest.raises(StackError, match=r"infra/local/kafka/pom\.xml"):
        _ = settings.infra_dir


def test_find_repo_root_walks_up(tmp_path: Path) -> None:
    root = _checkout(tmp_path / "repo")
    assert find_repo_root(root / "a" / "b") == root
    assert find_repo_root(tmp_path) is None


def test_heap_sizes() -> None:
    assert heap_megabytes("768M") == 768
    assert heap_megabytes("1g") == 1024


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
        ("no version here", None),
    ],
)
def test_java_major_version(output: str, major: int | None) -> None:
    assert java_major_version(output) == major


def test_a_bad_variable_is_named_in_the_stack_error(tmp_path: Path) -> None:
    env = {"PERSONA_HOME": str(tmp_path), "PATH": "", "PERSONA_KAFKA_CONTROLLER_PORT": "x"}
    with pytest.raises(StackError, match="PERSONA_KAFKA_CONTROLLER_PORT is not an integer"):
        StackSettings.from_env(env, cwd=tmp_path)


def test_a_stack_built_by_hand_obeys_the_rules_of_its_variables(tmp_path: Path) -> None:
    paths = {"home": tmp_path / "h", "warehouse": tmp_path / "w", "jar_cache": tmp_path / "j"}
    with pytest.raises(StackError, match="PERSONA_PARTITIONS must be at least 1"):
        StackSettings(**paths, repo_root=None, partitions=0)
    with pytest.raises(StackError, match="exceeds the local limit of 1G"):
        StackSettings(**paths, repo_root=None, cassandra_heap="4G")
    with pytest.raises(StackError, match="distinct"):
        StackSettings(**paths, repo_root=None, kafka_port=7000)


def test_blank_variables_take_the_defaults(tmp_path: Path) -> None:
    root = _checkout(tmp_path / "repo")
    blank = {n: "" for n in ("PERSONA_HOME", "PERSONA_WAREHOUSE", "PERSONA_KAFKA_PORT", "PERSONA_KAFKA_HEAP")}
    settings = StackSettings.from_env({**blank, "HOME": str(tmp_path / "user"), "PATH": ""}, cwd=root)
    assert settings.home == root / ".persona" and settings.warehouse == root / ".persona" / "warehouse"
    assert (settings.kafka_port, settings.kafka_heap) == (9092, "512M")
