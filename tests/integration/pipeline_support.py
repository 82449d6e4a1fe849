"""Shared machinery of the pipeline tests on the real stack: a private set of topics, a private
inventory table and warehouse per test, flow processes, and polling with a deadline."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from persona.contracts import Topics
from persona.datagen import DataGenerator
from persona.inventory import CassandraInventory, StockLevel
from persona.kafka import topic_configs
from persona.localstack import (
    INVENTORY_COLUMNS_CQL,
    StackSettings,
    cassandra_session,
    create_topic,
    kafka_admin,
)
from persona.localstack.runner import FlowProcess
from persona.paimon import PaimonWarehouse, TableWriter, ensure_tables

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, flows: list[FlowProcess]) -> T:
    """Poll ``probe`` until it returns a value; fail with the flows' logs when the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        dead = [f.name for f in flows if not f.alive()]
        if dead or time.monotonic() > deadline:
            logs = "\n".join(f"--- {f.name} ---\n{f.log_tail()}" for f in flows)
            pytest.fail(f"timed out waiting for {what}; dead flows: {dead}\n{logs}")
        time.sleep(0.2)  # poll interval of the deadline loop, not a fixed wait for a result


@dataclass
class Scenario:
    topics: Topics
    warehouse: Path
    inventory_table: str
    env: dict[str, str]
    state_dir: Path
    stack: StackSettings


@pytest.fixture
def scenario(stack: StackSettings, tmp_path: Path) -> Iterator[Scenario]:
    tag = uuid.uuid4().hex[:10]
    topics = Topics.with_prefix(f"e2e_{tag}_")
    configs = topic_configs(topics)
    for name, config in configs.items():
        create_topic(stack, name, 2, config)
    table = f"inventory_{tag}"
    with cassandra_session(stack, "supply") as session:
        session.execute(f"CREATE TABLE {table} {INVENTORY_COLUMNS_CQL}")
    warehouse = tmp_path / "warehouse"
    ensure_tables(warehouse)
    env = {
        "PERSONA_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "PERSONA_CASSANDRA_PORT": str(stack.cassandra_contact[1]),
        "PERSONA_TOPIC_PREFIX": f"e2e_{tag}_",
        "PERSONA_WAREHOUSE": str(warehouse),
        "PERSONA_INVENTORY_TABLE": table,
        "PERSONA_COMMIT_INTERVAL": "1",
        "PERSONA_GROUP_PREFIX": f"e2e-{tag}",
    }
    yield Scenario(topics, warehouse, table, env, tmp_path / "state", stack)
    with cassandra_session(stack, "supply") as session:
        session.execute(f"DROP TABLE IF EXISTS {table}")
    kafka_admin(stack).delete_topics(configs)


def load_stores(gen: DataGenerator, s: Scenario, start_ms: int) -> None:
    writer = TableWriter(PaimonWarehouse(s.warehouse), "customer_profile", commit_user="e2e-loader")
    writer.extend(gen.profile_rows())
    writer.commit()
    writer.close()
    store = CassandraInventory(
        [s.stack.cassandra_contact[0]], s.stack.cassandra_contact[1], table=s.inventory_table
    )
    try:
        store.upsert_many(
            StockLevel(
                r["sku_id"],
                r["available_qty"],
                r["reserved_qty"],
                dt.datetime.fromtimestamp(start_ms / 1000, dt.UTC),
            )
            for r in gen.inventory_rows(start_ms)
        )
    finally:
        store.close()
