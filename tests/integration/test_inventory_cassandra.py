"""The Cassandra inventory adapter and its cache against the real node."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest

from persona.inventory import CassandraInventory, InventoryCache, StockLevel
from persona.localstack import INVENTORY_COLUMNS_CQL, StackSettings, cassandra_session

pytestmark = pytest.mark.integration


@pytest.fixture
def table(stack: StackSettings) -> Iterator[str]:
    name = f"inv_{uuid.uuid4().hex[:10]}"
    with cassandra_session(stack, "supply") as session:
        session.execute(f"CREATE TABLE {name} {INVENTORY_COLUMNS_CQL}")
    yield name
    with cassandra_session(stack, "supply") as session:
        session.execute(f"DROP TABLE IF EXISTS {name}")


def test_batched_reads_sellable_and_unknown(stack: StackSettings, table: str) -> None:
    host, port = stack.cassandra_contact
    store = CassandraInventory([host], port, table=table)
    try:
        at = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
        levels = [StockLevel(f"S{i}", 10 + i, i * 2, at) for i in range(300)]
        assert store.upsert_many(levels) == 300
        found = store.read_many([f"S{i}" for i in range(0, 400, 7)])
        assert {k: v.sellable for k, v in found.items()} == {
            f"S{i}": max(0, 10 - i) for i in range(0, 300, 7)
        }, "rows beyond S299 do not exist: absent from the result (unknown)"
        assert found["S7"].updated_at is not None
        many = store.read_many([f"S{i}" for i in range(350)])  # several IN-chunks of 100
        assert set(many) == {f"S{i}" for i in range(300)}
        cache = InventoryCache(store, ttl_seconds=60)
        assert cache.sellable(["S1", "S20", "NOPE"]) == {"S1": 9, "S20": 0, "NOPE": None}
        assert cache.stats.reads == 1
    finally:
        store.close()


def test_asynchronous_reads_return_what_synchronous_reads_do(stack: StackSettings, table: str) -> None:
    import threading

    host, port = stack.cassandra_contact
    store = CassandraInventory([host], port, table=table)
    try:
        at = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
        store.upsert_many([StockLevel(f"S{i}", 10 + i, i * 2, at) for i in range(250)])
        wanted = [f"S{i}" for i in range(0, 260, 3)]  # several IN-chunks, some SKUs unknown
        results: list[object] = []
        finished = threading.Event()

        def done(rows: object) -> None:
            results.append(rows)
            finished.set()

        store.read_many_async(wanted, done)
        assert finished.wait(timeout=30), "the asynchronous read never called back"
        assert len(results) == 1
        assert results[0] == store.read_many(wanted)
    finally:
        store.close()


def test_an_asynchronous_read_of_an_unreachable_store_reports_the_error() -> None:
    import threading

    from persona.inventory import InventoryReadError

    store = CassandraInventory(["127.0.0.1"], 1, request_timeout=1.0)  # nothing listens on port 1
    results: list[object] = []
    finished = threading.Event()
    store.read_many_async(["S1"], lambda rows: (results.append(rows), finished.set()))
    try:
        assert finished.wait(timeout=30)
        assert len(results) == 1 and isinstance(results[0], InventoryReadError)
    finally:
        store.close()
