"""Rendered server.properties, cassandra.yaml and JVM command lines."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from persona.contracts import Topics
from persona.localstack import StackSettings, configs, pipeline_topics
from persona.localstack.configs import (
    CASSANDRA_JVM17_MODULE_FLAGS,
    cassandra_command,
    kafka_command,
    kafka_format_command,
    new_kafka_cluster_id,
    render_cassandra_yaml,
    render_kafka_properties,
)


@pytest.fixture
def settings(tmp_path: Path) -> StackSettings:
    return StackSettings(
        home=tmp_path / "home",
        warehouse=tmp_path / "home" / "warehouse",
        jar_cache=tmp_path / "jars",
        repo_root=tmp_path,
        kafka_port=19092,
        kafka_controller_port=19093,
        cassandra_port=19042,
        cassandra_storage_port=17000,
        partitions=6,
        java="/jdk/bin/java",
    )


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def test_kafka_properties(settings: StackSettings) -> None:
    properties = _properties(render_kafka_properties(settings))
    assert properties["process.roles"] == "broker,controller"
    assert properties["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert properties["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert properties["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert properties["log.dirs"] == str(settings.home / "kafka" / "data")
    assert properties["num.partitions"] == "6"
    assert properties["auto.create.topics.enable"] == "false"
    assert properties["offsets.topic.replication.factor"] == "1"
    assert properties["transaction.state.log.replication.factor"] == "1"
    assert properties["transaction.state.log.min.isr"] == "1"
    assert properties["group.initial.rebalance.delay.ms"] == "0"


def test_cassandra_yaml(settings: StackSettings) -> None:
    config = yaml.safe_load(render_cassandra_yaml(settings))
    base = settings.home / "cassandra"
    assert config["native_transport_port"] == 19042
    assert config["storage_port"] == 17000
    assert config["listen_address"] == config["rpc_address"] == "127.0.0.1"
    assert config["num_tokens"] == 1
    assert config["endpoint_snitch"] == "SimpleSnitch"
    assert config["partitioner"] == "org.apache.cassandra.dht.Murmur3Partitioner"
    assert config["commitlog_sync"] == "periodic"
    assert config["concurrent_compactors"] == 1
    assert config["data_file_directories"] == [str(base / "data")]
    for key in ("commitlog_directory", "saved_caches_directory", "hints_directory", "cdc_raw_directory"):
        assert Path(config[key]).parent == base
    seeds = config["seed_provider"][0]
    assert seeds["class_name"] == "org.apache.cassandra.locator.SimpleSeedProvider"
    assert seeds["parameters"] == [{"seeds": "127.0.0.1:17000"}]


def test_paths_with_yaml_special_characters_stay_strings(tmp_path: Path) -> None:
    home = tmp_path / "a: b #c"
    settings = StackSettings(home=home, warehouse=home / "w", jar_cache=tmp_path / "j", repo_root=None)
    config = yaml.safe_load(render_cassandra_yaml(settings))
    assert config["commitlog_directory"] == str(home / "cassandra" / "commitlog")


def test_cassandra_command(settings: StackSettings, tmp_path: Path) -> None:
    command = cassandra_command(
        settings, tmp_path / "cp", tmp_path / "cp" / "jamm-0.4.0.jar", tmp_path / "lb.xml"
    )
    assert command[0] == "/jdk/bin/java"
    assert command[-1] == "org.apache.cassandra.service.CassandraDaemon"
    assert command[command.index("-cp") + 1] == f"{tmp_path / 'cp'}/*"
    assert "-Xms768M" in command and "-Xmx768M" in command
    assert f"-javaagent:{tmp_path / 'cp' / 'jamm-0.4.0.jar'}" in command
    joined = " ".join(command)
    assert " ".join(CASSANDRA_JVM17_MODULE_FLAGS) in joined
    assert "--add-opens java.base/java.lang=ALL-UNNAMED" in joined
    assert f"-Dcassandra.config=file://{settings.home / 'cassandra' / 'cassandra.yaml'}" in command
    # JMX stays off: no extra port that could collide.
    assert "-Dcassandra.jmx" not in joined and "jmxremote" not in joined


def test_kafka_commands(settings: StackSettings, tmp_path: Path) -> None:
    server = kafka_command(settings, tmp_path / "cp", tmp_path / "log4j2.yaml")
    assert server[-2:] == ["kafka.Kafka", str(settings.home / "kafka" / "server.properties")]
    assert "-Xms512M" in server and "-Xmx512M" in server
    fmt = kafka_format_command(settings, tmp_path / "cp", tmp_path / "log4j2.yaml", "abc")
    assert fmt[fmt.index("kafka.tools.StorageTool") :] == [
        "kafka.tools.StorageTool",
        "format",
        "-t",
        "abc",
        "-c",
        str(settings.home / "kafka" / "server.properties"),
    ]


def test_kafka_cluster_ids_have_kafkas_format() -> None:
    ids = {new_kafka_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cluster_id in ids:
        assert len(cluster_id) == 22 and not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_init_creates_the_pipeline_topics() -> None:
    specs = {spec.name: spec.config for spec in pipeline_topics()}
    assert set(specs) == set(Topics().all_topics())
    for name in ("behavior_events", "orders_cdc", "inventory_changes", "order_facts", "segment_decisions"):
        assert name in specs and Topics.dlq(name) in specs
    assert specs["marketing_segments_rt"] == {"cleanup.policy": "compact"}
    assert specs["behavior_events"] == {}


def test_mariadb_cnf_keeps_the_binlog_debezium_reads_and_listens_on_loopback_only(tmp_path: Path) -> None:
    settings = StackSettings(
        home=tmp_path, warehouse=tmp_path / "w", jar_cache=tmp_path / "j", repo_root=None, mariadb_port=23306
    )
    lines = configs.render_mariadb_cnf(settings).splitlines()
    assert lines[0] == "[mariadbd]"
    options = dict(line.split(" = ", 1) for line in lines[1:] if " = " in line)
    assert options["binlog-format"] == "ROW"
    assert options["binlog-row-image"] == "FULL"
    assert options["server-id"] == "1"
    assert options["bind-address"] == "127.0.0.1"
    assert options["port"] == "23306"
    assert options["default-time-zone"] == "+00:00"
    assert options["datadir"] == str(tmp_path / "mariadb" / "data")
    assert options["socket"] == str(settings.mariadb_socket)
    # Nothing of the users' passwords ever reaches a file the server reads.
    assert settings.crm_password.reveal() not in "\n".join(lines)
    command = configs.mariadb_install_db_command(settings, "/usr/bin/mariadb-install-db", "someone")
    assert "--auth-root-authentication-method=socket" in command
    assert "--auth-root-socket-user=someone" in command
