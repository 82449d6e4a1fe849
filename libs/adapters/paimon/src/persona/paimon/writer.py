"""A streaming writer around Paimon commits: buffer rows, flush on the caller's commit interval.

Shaped like quix-streams' BatchingSink: ``add`` buffers, ``commit`` writes the buffer as one
Paimon snapshot under a monotonically increasing commit identifier. Tables are primary-key tables,
so writing the same rows again (a replay after recovery) leaves the merged result unchanged.

A commit that fails (I/O, a full disk) raises ``PaimonCommitError``: it is never a record's fault (rows
reach a writer already typed to its table), so the caller must not count the rows as written; a flow
fails its epoch and replays it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from persona.paimon.catalog import PaimonWarehouse


class PaimonCommitError(RuntimeError):
    """Writing or committing a snapshot failed: its rows must be written again (a flow replays its epoch)."""


@dataclass(frozen=True)
class CommitResult:
    rows: int
    commit_identifier: int
    snapshot_id: int | None
    seconds: float


class TableWriter:
    def __init__(self, warehouse: PaimonWarehouse, table_name: str, commit_user: str) -> None:
        self.warehouse = warehouse
        self.table_name = table_name
        self.commit_user = commit_user
        self._table = warehouse.table(table_name)
        self._schema: pa.Schema = self._table_arrow_schema()
        builder = self._table.new_stream_write_builder()._with_commit_user(commit_user)
        self._write = builder.new_write()
        self._commit = builder.new_commit()
        last = warehouse.last_commit_identifier(table_name, commit_user)
        self._next_identifier = 1 if last is None else last + 1
        self._rows: list[Mapping[str, Any]] = []
        self._tables: list[pa.Table] = []
        self._table_rows = 0

    def _table_arrow_schema(self) -> pa.Schema:
        from pypaimon.schema.data_types import PyarrowFieldParser

        schema: pa.Schema = PyarrowFieldParser.from_paimon_schema(self._table.table_schema.fields)
        return schema

    @property
    def schema(self) -> pa.Schema:
        return self._schema

    @property
    def schema_id(self) -> int:
        """The id of the table schema this writer writes."""
        return int(self._table.table_schema.id)

    def newest_schema_id(self) -> int:
        """The id of the table's newest schema, read now (~2 ms locally: a listing and one small file);
        it differs from ``schema_id`` once a schema change was committed after this writer opened."""
        latest = self._table.schema_manager.latest()
        return self.schema_id if latest is None else int(latest.id)

    @property
    def uses_native_write(self) -> bool:
        return type(self._write).__name__.startswith("Native")

    @property
    def pending(self) -> int:
        return len(self._rows) + self._table_rows

    def add(self, row: Mapping[str, Any]) -> None:
        self._rows.append(row)

    def extend(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._rows.extend(rows)

    def add_arrow(self, table: pa.Table) -> None:
        """Buffer rows already in columns; ``table`` must have this writer's ``schema``."""
        if table.schema != self._schema:
            raise ValueError(f"{self.table_name}: rows with schema {table.schema} do not match the table's")
        if table.num_rows:
            self._tables.append(table)
            self._table_rows += table.num_rows

    def commit(self) -> CommitResult | None:
        """Write the buffered rows as one snapshot; nothing to write means no snapshot."""
        if not self._rows and not self._tables:
            return None
        started = time.perf_counter()
        tables = list(self._tables)
        if self._rows:
            names = set(self._schema.names)
            # Columns added by schema evolution after this writer's rows were built read as null.
            rows = [{k: v for k, v in row.items() if k in names} for row in self._rows]
            tables.append(pa.Table.from_pylist(rows, schema=self._schema))
        data = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        identifier = self._next_identifier
        try:
            self._write.write_arrow(data)
            messages = self._write.prepare_commit(identifier)
            self._commit.commit(messages, identifier)
        except Exception as error:
            raise PaimonCommitError(
                f"committing {data.num_rows} rows to Paimon table {self.table_name} (commit "
                f"{identifier} of {self.commit_user}) failed: {type(error).__name__}: {error}"
            ) from error
        self._next_identifier += 1
        count = data.num_rows
        self._rows = []
        self._tables = []
        self._table_rows = 0
        return CommitResult(
            rows=count,
            commit_identifier=identifier,
            snapshot_id=self.warehouse.latest_snapshot_id(self.table_name),
            seconds=time.perf_counter() - started,
        )

    def close(self) -> None:
        try:
            self._write.close()
        finally:
            self._commit.close()
