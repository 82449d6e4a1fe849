"""What persona changes in the warehouse besides rows: columns added while the flows run, and the
rows of an erased customer deleted from primary-key tables.

Deletes. pypaimon 2.1.0 writes a primary-key table's rows as inserts unless the table's
``rowkind.field`` option names a string column whose value (``+I``, ``-U``, ``+U``, ``-D``) is each
row's kind (``pypaimon.write.row_kind``). ``delete_rows`` writes through a copy of the table with that
option set for this write only (a dynamic option: the table's stored options do not change) and
naming the ``segment`` column, which every table it deletes from has: a delete row holds the keys,
``-D`` there and nulls elsewhere, so the delete itself stores no personal data. It writes with the
Python writer (the native writer ignores ``rowkind.field``), under its own commit user, after
restoring the latest snapshot, so its sequence numbers follow every committed row: a writer opened
after it (the sink reopens its writers after an erasure) writes rows that win over the delete.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from persona.paimon.catalog import PaimonError, PaimonWarehouse

ROW_KIND_COLUMN = "segment"
"""The string column the delete write reads the row kind from (``rowkind.field``)."""

_PAIMON_TYPES = {"STRING", "BIGINT", "INT", "DOUBLE", "BOOLEAN", "DATE", "TIMESTAMP(3)"}


def schema_id(warehouse: PaimonWarehouse, name: str) -> int:
    """The id of table ``name``'s latest schema: it grows with every schema change."""
    return int(warehouse.table(name).table_schema.id)


def add_column(warehouse: PaimonWarehouse, name: str, column: str, type_name: str) -> int:
    """``ALTER TABLE name ADD COLUMN column type_name`` (a nullable column, so rows written before
    read null); the new schema id. Writers opened before keep writing the old schema until reopened."""
    from pypaimon.schema.data_types import AtomicType
    from pypaimon.schema.schema_change import SchemaChange

    paimon_type = type_name.upper()
    if paimon_type not in _PAIMON_TYPES:
        raise PaimonError(f"type {type_name!r} is not one of {', '.join(sorted(_PAIMON_TYPES))}")
    table = warehouse.table(name)
    if column in [f.name for f in table.table_schema.fields]:
        raise PaimonError(f"Paimon table {warehouse.identifier(name)} already has a column {column!r}")
    try:
        warehouse.catalog.alter_table(
            warehouse.identifier(name), [SchemaChange.add_column(column, AtomicType(paimon_type))], False
        )
    except Exception as error:
        raise PaimonError(
            f"adding column {column} to {warehouse.identifier(name)} failed: {error}"
        ) from error
    return schema_id(warehouse, name)


def rows_of_customer(warehouse: PaimonWarehouse, name: str, customer_id: int) -> pa.Table:
    """The current rows of ``customer_id`` in table ``name`` (filtered by the scan, then exactly)."""
    table = warehouse.table(name)
    builder = table.new_read_builder()
    predicate = builder.new_predicate_builder().equal("customer_id", customer_id)
    builder = builder.with_filter(predicate)
    splits = builder.new_scan().plan().splits()
    rows: pa.Table = builder.new_read().to_arrow(splits)
    if rows is None:
        return pa.table({})
    return rows.filter(pc.equal(rows.column("customer_id"), customer_id))


def delete_rows(warehouse: PaimonWarehouse, name: str, keys: pa.Table, commit_user: str) -> int:
    """Delete the rows of primary-key table ``name`` whose keys are ``keys``' rows (one commit); the
    number of delete rows written. ``keys`` holds at least the table's primary-key columns."""
    if keys.num_rows == 0:
        return 0
    table: Any = warehouse.table(name)
    from pypaimon.schema.data_types import PyarrowFieldParser

    schema: pa.Schema = PyarrowFieldParser.from_paimon_schema(table.table_schema.fields)
    columns = {}
    for field in schema:
        if field.name == ROW_KIND_COLUMN:
            columns[field.name] = pa.array(["-D"] * keys.num_rows, type=field.type)
        elif field.name in table.table_schema.primary_keys:
            columns[field.name] = keys.column(field.name).cast(field.type)
        else:
            columns[field.name] = pa.nulls(keys.num_rows, type=field.type)
    data = pa.table(columns, schema=schema)
    deleting = table.copy({"rowkind.field": ROW_KIND_COLUMN, "write.native.enabled": "false"})
    builder = deleting.new_batch_write_builder()._with_commit_user(commit_user)
    write = builder.new_write()
    commit = builder.new_commit()
    try:
        write.write_arrow(data)
        commit.commit(write.prepare_commit())
    except Exception as error:
        raise PaimonError(
            f"deleting {keys.num_rows} rows from {warehouse.identifier(name)} failed: "
            f"{type(error).__name__}: {error}"
        ) from error
    finally:
        write.close()
        commit.close()
    return int(keys.num_rows)


def erase_customer(
    warehouse: PaimonWarehouse, names: list[str], customer_id: int, commit_user: str
) -> dict[str, int]:
    """Delete every current row of ``customer_id`` from each table of ``names`` (one commit per table
    that holds some); rows deleted per table."""
    deleted: dict[str, int] = {}
    for name in names:
        deleted[name] = delete_rows(
            warehouse, name, rows_of_customer(warehouse, name, customer_id), commit_user
        )
    return deleted
