"""The local Cassandra node: the init schema, and a write/read round trip on a fresh table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from persona.localstack import (
    INVENTORY_COLUMNS_CQL,
    INVENTORY_TABLE,
    SUPPLY_KEYSPACE,
    StackSettings,
    cassandra_session,
)

pytestmark = pytest.mark.integration


def test_init_created_the_inventory_projection_table(stack: StackSettings) -> None:
    with cassandra_session(stack) as session:
        rows = session.execute(
            "SELECT column_name, type, kind FROM system_schema.columns "
            "WHERE keyspace_name = %s AND table_name = %s",
            (SUPPLY_KEYSPACE, INVENTORY_TABLE),
        )
        columns = {row.column_name: (row.type, row.kind) for row in rows}
        replication = session.execute(
            "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = %s", (SUPPLY_KEYSPACE,)
        ).one()
    assert columns == {
        "sku_id": ("text", "partition_key"),
        "available_qty": ("bigint", "regular"),
        "reserved_qty": ("bigint", "regular"),
        "updated_at": ("timestamp", "regular"),
    }
    assert replication.replication["class"].endswith("SimpleStrategy")
    assert replication.replication["replication_factor"] == "1"


def test_insert_then_select_on_a_fresh_table(stack: StackSettings, unique_name: Callable[[str], str]) -> None:
    table = unique_name("stack_inventory")
    updated_at = dt.datetime(2026, 1, 2, 3, 4, 5, 678000)
    with cassandra_session(stack, SUPPLY_KEYSPACE) as session:
        session.execute(f"CREATE TABLE {table} {INVENTORY_COLUMNS_CQL}")
        try:
            insert = session.prepare(
                f"INSERT INTO {table} (sku_id, available_qty, reserved_qty, updated_at) VALUES (?, ?, ?, ?)"
            )
            for i in range(20):
                session.execute(insert, (f"sku-{i}", 100 + i, i, updated_at))
            row = session.execute(f"SELECT * FROM {table} WHERE sku_id = %s", ("sku-7",)).one()
            count = session.execute(f"SELECT count(*) FROM {table}").one()
        finally:
            session.execute(f"DROP TABLE {table}")
    assert (row.sku_id, row.available_qty, row.reserved_qty, row.updated_at) == ("sku-7", 107, 7, updated_at)
    assert count.count == 20
