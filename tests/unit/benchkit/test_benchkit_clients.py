"""The bench's clients take the security settings: its producer process (from its own environment,
never a pickled password), its own consumers, and its scenario's Cassandra store (nothing connects)."""

from __future__ import annotations

import pickle
from pathlib import Path

from persona.benchkit.producer import ProducerConfig, client_config
from persona.benchkit.scenario import Scenario
from persona.contracts import Topics
from persona.datagen import GeneratorConfig
from persona.localstack import StackSettings

PASSWORD = "bench-s3cret-never-pickled"
KAFKA_SASL = {
    "PERSONA_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "PERSONA_KAFKA_SASL_USERNAME": "bench",
    "PERSONA_KAFKA_SASL_PASSWORD": PASSWORD,
}
CASSANDRA_AUTH = {"PERSONA_CASSANDRA_USERNAME": "bench", "PERSONA_CASSANDRA_PASSWORD": PASSWORD}


def _producer_config() -> ProducerConfig:
    return ProducerConfig("k:9092", Topics.with_prefix("bench_x_"), GeneratorConfig(), 100, "bench_x_scratch")


def test_the_producer_process_connects_with_the_security_settings_of_its_environment() -> None:
    config = client_config(_producer_config(), KAFKA_SASL)
    assert (config["security.protocol"], config["sasl.username"], config["sasl.password"]) == (
        "SASL_PLAINTEXT",
        "bench",
        PASSWORD,
    )
    # Its own tuning is kept.
    assert (config["bootstrap.servers"], config["linger.ms"], config["batch.size"]) == (
        "k:9092",
        20,
        1_000_000,
    )
    assert "security.protocol" not in client_config(_producer_config(), {})


def test_what_the_producer_process_is_handed_holds_no_password() -> None:
    # ProducerConfig is pickled to the spawned process: the settings travel as variables instead.
    assert PASSWORD.encode() not in pickle.dumps(_producer_config())


def test_the_scenarios_clients_take_the_stacks_security_settings(tmp_path: Path) -> None:
    stack = StackSettings.from_env({"PERSONA_HOME": str(tmp_path), **KAFKA_SASL, **CASSANDRA_AUTH})
    scenario = Scenario(stack, "t")
    assert scenario.kafka_config()["sasl.password"] == PASSWORD
    store = scenario.inventory_store()
    try:
        auth = store._cluster.auth_provider
        assert (auth.username, auth.password) == ("bench", PASSWORD)
    finally:
        store.close()
    plain = Scenario(StackSettings.from_env({"PERSONA_HOME": str(tmp_path)}), "t")
    assert plain.kafka_config() == {}
    store = plain.inventory_store()
    try:
        assert store._cluster.auth_provider is None
    finally:
        store.close()
