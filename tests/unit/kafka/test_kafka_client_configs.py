"""The tools' Kafka clients take the security settings: each consumer's and the producer's
librdkafka properties, with the security config over the client's own tuning (nothing connects)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from persona.kafka.consumers import drain_config, offsets_config, reader_config, tail_config
from persona.kafka.producers import producer_config

SECURITY = {
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.username": "persona",
    "sasl.password": "pw",
}

CONSUMERS: dict[str, Callable[[str, Mapping[str, Any] | None], dict[str, Any]]] = {
    "read_topic": lambda bootstrap, config: reader_config(bootstrap, None, config),
    "EndOffsets": offsets_config,
    "tail_values": tail_config,
    "drain": drain_config,
}


@pytest.mark.parametrize("name", CONSUMERS)
def test_every_consumer_carries_the_security_config(name: str) -> None:
    config = CONSUMERS[name]("k:9092", SECURITY)
    assert config["bootstrap.servers"] == "k:9092"
    assert config["group.id"].startswith("persona-")
    assert {key: config[key] for key in SECURITY} == SECURITY


@pytest.mark.parametrize("name", CONSUMERS)
def test_without_a_config_a_consumer_is_plaintext(name: str) -> None:
    config = CONSUMERS[name]("k:9092", None)
    assert not {key for key in config if key.startswith(("security.", "sasl.", "ssl."))}


def test_the_security_config_wins_over_a_consumers_own_properties() -> None:
    # A PERSONA_KAFKA_CONFIG_FILE property overrides the tools' tuning, as it does the flows'.
    assert drain_config("k:9092", None)["fetch.max.bytes"] == 64 * 2**20
    assert drain_config("k:9092", {"fetch.max.bytes": "1048576"})["fetch.max.bytes"] == "1048576"
    assert reader_config("k:9092", "g", {"enable.partition.eof": False})["enable.partition.eof"] is False


def test_the_producer_has_its_defaults_the_callers_tuning_and_the_security_config_over_both() -> None:
    plain = producer_config("k:9092")
    assert (plain["linger.ms"], plain["enable.idempotence"]) == (5, True)
    assert "security.protocol" not in plain
    tuned = producer_config("k:9092", SECURITY, **{"linger.ms": 20, "compression.type": "zstd"})
    assert (tuned["linger.ms"], tuned["compression.type"]) == (20, "zstd")
    assert {key: tuned[key] for key in SECURITY} == SECURITY
    assert producer_config("k:9092", {"linger.ms": "0"}, **{"linger.ms": 20})["linger.ms"] == "0"
