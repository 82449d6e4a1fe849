"""Shared machinery of the pipeline tests on the real stack: a private set of topics, a private
inventory table and warehouse per test, flow processes, and polling with a deadline."""

from __future__ import annotations

import datetime as dt
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from persona.contracts import Ok, Topics, parse_order_change
from persona.datagen import DataGenerator, WireRecord
from persona.inventory import CassandraInventory, StockLevel
from persona.kafka import produce_all, topic_configs
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


def produce_in_time_order(
    producer: Any,
    records: Sequence[WireRecord],
    topics: Topics,
    enrich: FlowProcess,
    flows: list[FlowProcess],
    timeout: float,
) -> None:
    """Produce generated ``records`` in time order so the stream decides what replay decides.

    Orders reach the enrich flow one hop later (through the cdc flow), so a run of order changes is
    fenced on both sides: before it, enrich has durably processed every event sent so far (none is
    decided with an order it must not see yet); after it, every valid order's fact (no later event
    overtakes them). The flows' own recovery snapshots say what they processed.
    """
    valid_orders = events_sent = 0
    i = 0
    while i < len(records):
        kind = records[i].kind
        j = i
        while j < len(records) and records[j].kind == kind:
            j += 1
        run = records[i:j]
        if kind == "order":
            if events_sent:
                wait_for(
                    f"enrich to decide {events_sent} events",
                    lambda sent=events_sent: (
                        True if enrich.committed_offsets(topics.behavior_events) >= sent else None
                    ),
                    timeout,
                    flows,
                )
            produce_all(producer, topics.orders_cdc, ((r.key, r.value) for r in run))
            valid_orders += sum(isinstance(parse_order_change(r.value), Ok) for r in run)
            wait_for(
                f"enrich to apply {valid_orders} order facts",
                lambda target=valid_orders: (
                    True if enrich.committed_offsets(topics.order_facts) >= target else None
                ),
                timeout,
                flows,
            )
        else:
            produce_all(producer, topics.behavior_events, ((r.key, r.value) for r in run))
            events_sent += len(run)
        i = j


def wait_for(
    what: str | Callable[[], str], probe: Callable[[], T | None], timeout: float, flows: list[FlowProcess]
) -> T:
    """Poll ``probe`` until it returns a value; fail with the flows' logs when the deadline passes.

    ``what`` may be a function, called at the failure, that names what was still missing."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        dead = [f.name for f in flows if not f.alive()]
        if dead or time.monotonic() > deadline:
            logs = "\n".join(f"--- {f.name} ---\n{f.log_tail()}" for f in flows)
            waited = what() if callable(what) else what
            pytest.fail(f"timed out waiting for {waited}; dead flows: {dead}\n{logs}")
        time.sleep(0.2)  # poll interval of the deadline loop, not a fixed wait for a result


def wait_for_audit(
    warehouse: PaimonWarehouse, count: int, timeout: float, flows: list[FlowProcess]
) -> list[dict[str, Any]]:
    """The rows of ``segment_decisions`` once the sink has committed at least ``count`` of them."""

    def committed() -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] = warehouse.read_arrow("segment_decisions").to_pylist()
        return rows if len(rows) >= count else None

    return wait_for("segment_decisions committed", committed, timeout, flows)


def publication_env(stack: StackSettings) -> dict[str, str]:
    """The variables that point a publication at ``stack``: its Nessie, history catalog and S3."""
    return {
        "PERSONA_NESSIE_URL": stack.nessie_url,
        "PERSONA_ICEBERG_REST_URL": stack.iceberg_rest_url,
        "PERSONA_S3_ENDPOINT": stack.s3_endpoint,
        "PERSONA_S3_ACCESS_KEY": stack.s3_access_key,
        "PERSONA_S3_SECRET_KEY": stack.s3_secret_key.reveal(),
    }


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


def free_port_block(count: int = 3) -> int:
    """A loopback port with the ``count - 1`` after it free too: the metrics ports the runner gives
    cdc, enrich and sink (base, base + 1, base + 2)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + count >= 65536:
            continue
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sockets.append(socket.socket())
                sockets[-1].bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
        return base
    raise RuntimeError(f"no {count} consecutive free ports")
