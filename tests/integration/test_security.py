"""The flows on a secured stack: Kafka with only a SASL_SSL listener (SCRAM-SHA-512 users, TLS certs
made by the test) and Cassandra with PasswordAuthenticator and client TLS. The flows get the security
settings through the environment they read, as in production; clients without them are refused.

It starts its own Kafka and Cassandra (``persona.localstack.secure``) on free ports under a temporary
home, and stops them at the end; the shared stack is not used.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from cassandra.cluster import NoHostAvailable
from pipeline_support import produce_in_time_order, wait_for, wait_for_audit

from persona.contracts import Ok, Topics, parse_decision_message
from persona.datagen import DataGenerator, GeneratorConfig
from persona.datagen.loaders import write_files
from persona.inventory import CassandraInventory, StockLevel
from persona.kafka import KafkaAdmin, KafkaAdminError, make_producer, read_topic
from persona.localstack import StackSettings, cassandra_session, init_schema
from persona.localstack.runner import FlowProcess
from persona.localstack.secure import SecureStack, down_secure, up_secure
from persona.paimon import PaimonWarehouse, TableWriter
from persona.replay import run_replay
from persona.settings.secret import Secret
from persona.settings.security import CassandraSecurity

pytestmark = pytest.mark.integration

START_MS = int(dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureStack]:
    base = StackSettings.from_env(os.environ)
    home = tmp_path_factory.mktemp("secure-stack")
    started = up_secure(base, home)
    try:
        init_schema(started.settings, crm=False)  # the secured stack has no CRM
        yield started
    finally:
        down_secure(started.settings)


def test_clients_without_credentials_are_refused(secure: SecureStack) -> None:
    s = secure.settings
    config = s.kafka_security.client_config()
    assert KafkaAdmin(s.kafka_bootstrap, **config).cluster(timeout=10).cluster_id
    with pytest.raises(KafkaAdminError):
        KafkaAdmin(s.kafka_bootstrap).cluster(timeout=5)  # plaintext to the SASL_SSL listener
    with pytest.raises(KafkaAdminError):
        KafkaAdmin(s.kafka_bootstrap, **{**config, "sasl.password": "wrong"}).cluster(timeout=5)

    ca = s.cassandra_security.ssl_ca
    with cassandra_session(s, metadata=False) as session:
        assert session.execute("SELECT release_version FROM system.local").one() is not None
    refused = [
        CassandraSecurity(ssl_ca=ca),  # TLS, no credentials
        CassandraSecurity(username="persona", password=Secret("wrong"), ssl_ca=ca),
        dataclasses.replace(s.cassandra_security, ssl_ca=None),  # right credentials, no TLS
    ]
    for security in refused:
        refused_settings = dataclasses.replace(s, cassandra_security=security)
        with (
            pytest.raises(NoHostAvailable),
            cassandra_session(refused_settings, connect_timeout=5, metadata=False),
        ):
            pass


def _load_stores(gen: DataGenerator, secure: SecureStack) -> None:
    s = secure.settings
    writer = TableWriter(PaimonWarehouse(s.warehouse), "customer_profile", commit_user="security-loader")
    writer.extend(gen.profile_rows())
    writer.commit()
    writer.close()
    store = CassandraInventory(
        [s.cassandra_contact[0]],
        s.cassandra_port,
        credentials=s.cassandra_security.credentials(),
        ssl_context=s.cassandra_security.ssl_context(),
    )
    try:
        at = dt.datetime.fromtimestamp(START_MS / 1000, dt.UTC)
        store.upsert_many(
            StockLevel(r["sku_id"], r["available_qty"], r["reserved_qty"], at)
            for r in gen.inventory_rows(START_MS)
        )
    finally:
        store.close()


def test_the_flows_decide_on_the_secured_stack(secure: SecureStack, tmp_path: Path) -> None:
    s = secure.settings
    kafka_config = s.kafka_security.client_config()
    gen = DataGenerator(
        GeneratorConfig(
            seed=17,
            customers=15,
            skus=15,
            order_fraction=0.15,
            malformed_fraction=0.0,
            duplicate_fraction=0.0,
        )
    )
    records = gen.records(80, START_MS, 60_000)
    paths = write_files(gen, tmp_path / "input", records, START_MS)
    out = tmp_path / "replay.jsonl"
    run_replay(
        paths["events"], paths["orders"], paths["profiles"], paths["inventory"], out, out.with_suffix(".dlq")
    )
    expected = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert expected
    _load_stores(gen, secure)

    env = {**secure.env, "PERSONA_WAREHOUSE": str(s.warehouse), "PERSONA_COMMIT_INTERVAL": "1"}
    topics = Topics()
    flows = [
        FlowProcess(name, tmp_path / "state", env, snapshot_seconds=1) for name in ("cdc", "enrich", "sink")
    ]
    for f in flows:
        f.start()
    try:
        producer = make_producer(s.kafka_bootstrap, **kafka_config)
        produce_in_time_order(producer, records, topics, flows[1], flows, 180)

        def rt_rows() -> list[Any] | None:
            got = read_topic(
                s.kafka_bootstrap,
                topics.marketing_segments_rt,
                min_count=len(expected),
                timeout=3,
                config=kafka_config,
            )
            return got if len(got) >= len(expected) else None

        rt = wait_for(f"{len(expected)} decisions on rt", rt_rows, 180, flows)
        seen: dict[tuple[int, int], Any] = {}
        for record in rt:
            message = parse_decision_message(record.value or b"")
            assert isinstance(message, Ok)
            seen[(message.value.decision.customer_id, message.value.version)] = message.value.decision
        versions: dict[int, int] = {}
        for want in expected:
            version = versions[want["customer_id"]] = versions.get(want["customer_id"], 0) + 1
            got = seen[(want["customer_id"], version)]
            assert (got.segment, list(got.recommendation)) == (want["segment"], want["recommendation"])
        assert len(seen) == len(expected)

        # The sink read segment_decisions through SASL_SSL too: the audit is in Paimon.
        warehouse = PaimonWarehouse(s.warehouse)
        audit = wait_for_audit(warehouse, len(expected), 120, flows)
        assert sorted(r["event_id"] for r in audit) == sorted(d["event_id"] for d in expected)
    finally:
        for f in flows:
            f.stop()
    for f in flows:
        log_text = f.log_path.read_text()
        for secret in (secure.env["PERSONA_KAFKA_SASL_PASSWORD"], secure.env["PERSONA_CASSANDRA_PASSWORD"]):
            assert secret not in log_text, f"a password is in the {f.name} flow's log"
