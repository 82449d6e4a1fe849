"""The tools' own clients on a secured stack (SASL_SSL Kafka, Cassandra with a password and TLS): the
producer, end offsets, drain and tail consumers the demo and the bench use, and the bench scenario's
Cassandra store, connect with the security settings; without them Kafka refuses the consumer.

It starts its own Kafka and Cassandra (``persona.localstack.secure``) under a temporary home.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaException

from persona.benchkit.config import QUICK
from persona.benchkit.scenario import Scenario
from persona.kafka import drain, end_offsets, make_producer, produce_all, tail_values
from persona.localstack import StackSettings, create_topic, init_schema, kafka_admin
from persona.localstack.secure import SecureStack, down_secure, up_secure

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureStack]:
    started = up_secure(StackSettings.from_env(os.environ), tmp_path_factory.mktemp("secure-tools"))
    try:
        init_schema(started.settings, crm=False)  # the secured stack has no CRM
        yield started
    finally:
        down_secure(started.settings)


def test_the_tools_kafka_clients_connect_with_the_security_config(secure: SecureStack) -> None:
    s = secure.settings
    config = s.kafka_security.client_config()
    topic = f"tools_secure_{uuid.uuid4().hex[:8]}"
    create_topic(s, topic, 2, {})
    records = [(f"k{i}".encode(), f"v{i}".encode()) for i in range(50)]
    assert produce_all(make_producer(s.kafka_bootstrap, config), topic, records) == 50
    assert sum(end_offsets(s.kafka_bootstrap, topic, config).values()) == 50
    drained = sum(len(batch) for batch in drain(s.kafka_bootstrap, [topic], idle_timeout=30, config=config))
    assert drained == 50

    # The tail sees what is produced after it has joined: a record is offered every half second
    # until it does (or the deadline), since it joins at the end of the topic some time after the call.
    stop = threading.Event()
    deadline = time.monotonic() + 60

    def offer() -> None:
        producer = make_producer(s.kafka_bootstrap, config)
        while not stop.wait(0.5) and time.monotonic() < deadline:
            produce_all(producer, topic, [(b"k", b"late")])

    offering = threading.Thread(target=offer, daemon=True)
    offering.start()
    seen: list[bytes | None] = []
    for values in tail_values(
        s.kafka_bootstrap, topic, lambda: stop.is_set() or time.monotonic() > deadline, config=config
    ):
        seen += values
        stop.set()
    offering.join(10)
    assert b"late" in seen

    with pytest.raises(KafkaException):
        end_offsets(s.kafka_bootstrap, topic)  # plaintext to the SASL_SSL listener


def test_the_bench_scenario_loads_its_cassandra_table_with_the_security_settings(secure: SecureStack) -> None:
    s = secure.settings
    scenario = Scenario.new(s)
    admin = kafka_admin(s)
    try:
        scenario.create(admin, 1)
        cfg = dataclasses.replace(QUICK, customers=50, skus=40)
        load = scenario.load_stores(scenario.generator_config(cfg))
        assert load["skus"] > 0
        store = scenario.inventory_store()
        try:
            assert store.read_many([f"SKU-{i}" for i in range(40)])
        finally:
            store.close()
    finally:
        scenario.remove(admin, keep_files=False)
