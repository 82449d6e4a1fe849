"""PipelineSettings: built from the registry, its defaults the registry's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from persona.contracts import Topics
from persona.settings import PipelineSettings, SettingsError
from persona.settings import registry as r


def test_the_environment_s_defaults_are_the_constructor_s() -> None:
    assert PipelineSettings.from_env({}) == PipelineSettings()
    blank = {s.name: "" for s in r.SETTINGS}
    assert PipelineSettings.from_env(blank) == PipelineSettings()


def test_defaults() -> None:
    s = PipelineSettings()
    assert s.kafka_bootstrap == "127.0.0.1:9092" and s.brokers == ["127.0.0.1:9092"]
    assert (s.cassandra_hosts, s.cassandra_port) == (("127.0.0.1",), 9042)
    assert (s.inventory_keyspace, s.inventory_table) == ("supply", "inventory_projection")
    assert s.warehouse == str(Path(".persona") / "warehouse")
    assert s.topics == Topics()
    assert (s.commit_interval_seconds, s.enrich_epoch_seconds) == (10.0, None)
    assert (s.inventory_ttl_seconds, s.profile_refresh_seconds) == (5.0, 5.0)
    assert (s.table_suffix, s.group_prefix) == ("", "persona")
    assert (s.enrich_shards, s.poll_records, s.enrich_state_dir) == (4, 1000, None)


def test_every_field_from_the_environment() -> None:
    s = PipelineSettings.from_env(
        {
            "PERSONA_KAFKA_BOOTSTRAP": "k1:9092,k2:9092",
            "PERSONA_CASSANDRA_HOSTS": "c1,c2",
            "PERSONA_CASSANDRA_PORT": "19042",
            "PERSONA_INVENTORY_KEYSPACE": "ks",
            "PERSONA_INVENTORY_TABLE": "inv",
            "PERSONA_WAREHOUSE": "s3://bucket/wh",
            "PERSONA_TOPIC_PREFIX": "t_",
            "PERSONA_COMMIT_INTERVAL": "2.5",
            "PERSONA_ENRICH_EPOCH": "30",
            "PERSONA_INVENTORY_TTL": "0.2",
            "PERSONA_PROFILE_REFRESH": "1",
            "PERSONA_TABLE_SUFFIX": "_x",
            "PERSONA_GROUP_PREFIX": "g",
            "PERSONA_ENRICH_SHARDS": "8",
            "PERSONA_POLL_RECORDS": "250",
            "PERSONA_ENRICH_STATE_DIR": "/state/customers",
        }
    )
    assert s.brokers == ["k1:9092", "k2:9092"]
    assert (s.cassandra_hosts, s.cassandra_port) == (("c1", "c2"), 19042)
    assert (s.inventory_keyspace, s.inventory_table) == ("ks", "inv")
    assert s.warehouse == "s3://bucket/wh"  # a URI stays as written
    assert s.topics == Topics.with_prefix("t_")
    assert (s.commit_interval_seconds, s.enrich_epoch_seconds) == (2.5, 30.0)
    assert (s.inventory_ttl_seconds, s.profile_refresh_seconds) == (0.2, 1.0)
    assert (s.table_suffix, s.table("marketing_segments")) == ("_x", "marketing_segments_x")
    assert s.group_prefix == "g"
    assert (s.enrich_shards, s.poll_records, s.enrich_state_dir) == (8, 250, "/state/customers")


def test_derived_defaults_follow_the_values_they_derive_from() -> None:
    s = PipelineSettings.from_env({"PERSONA_KAFKA_PORT": "19092", "PERSONA_HOME": "/h"})
    assert s.kafka_bootstrap == "127.0.0.1:19092"
    assert s.warehouse == "/h/warehouse"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PERSONA_COMMIT_INTERVAL": "ten"}, "PERSONA_COMMIT_INTERVAL is not a number"),
        ({"PERSONA_COMMIT_INTERVAL": "0"}, "PERSONA_COMMIT_INTERVAL must be > 0"),
        ({"PERSONA_ENRICH_SHARDS": "1.5"}, "PERSONA_ENRICH_SHARDS is not an integer"),
        ({"PERSONA_CASSANDRA_PORT": "99999"}, "PERSONA_CASSANDRA_PORT is out of range"),
    ],
)
def test_a_bad_value_names_its_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        PipelineSettings.from_env(env)


def test_the_process_environment_is_read_when_asked_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = {s.name: "\u2603 not a value" for s in r.SETTINGS}
    imports = "import persona.settings, persona.settings.registry, persona.settings.readme"
    done = subprocess.run([sys.executable, "-c", imports], env={**os.environ, **bad}, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    monkeypatch.setenv("PERSONA_POLL_RECORDS", "not a number")
    with pytest.raises(SettingsError, match="PERSONA_POLL_RECORDS"):
        PipelineSettings.from_env()
    monkeypatch.setenv("PERSONA_POLL_RECORDS", "7")
    assert PipelineSettings.from_env().poll_records == 7
