"""The filesystem catalog of the warehouse and the operations persona needs on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
from pypaimon import CatalogFactory, Schema

from persona.paimon.schema import DATABASE, TableSpec


class PaimonError(RuntimeError):
    """A warehouse operation failed; the message says which table and why."""


class PaimonWarehouse:
    """A local (or later S3) Paimon warehouse opened through pypaimon's filesystem catalog."""

    def __init__(self, warehouse: str | Path, database: str = DATABASE) -> None:
        # DataFusion's catalog wants a URL or an absolute path.
        self.warehouse = str(warehouse) if "://" in str(warehouse) else str(Path(warehouse).resolve())
        self.database = database
        self._catalog: Any = None

    @property
    def catalog(self) -> Any:
        if self._catalog is None:
            if "://" not in self.warehouse:
                Path(self.warehouse).mkdir(parents=True, exist_ok=True)
            self._catalog = CatalogFactory.create({"warehouse": self.warehouse})
        return self._catalog

    def identifier(self, name: str) -> str:
        return name if "." in name else f"{self.database}.{name}"

    def ensure(self, specs: tuple[TableSpec, ...], *, name_suffix: str = "") -> list[str]:
        self.catalog.create_database(self.database, True)
        existing = set(self.catalog.list_tables(self.database))
        created: list[str] = []
        for spec in specs:
            name = spec.name + name_suffix
            if name in existing:
                continue
            schema = Schema.from_pyarrow_schema(
                spec.schema,
                partition_keys=list(spec.partition_keys) or None,
                primary_keys=list(spec.primary_keys),
                options=spec.all_options(),
            )
            self.catalog.create_table(self.identifier(name), schema, True)
            created.append(name)
        return created

    def table(self, name: str) -> Any:
        try:
            return self.catalog.get_table(self.identifier(name))
        except Exception as error:
            raise PaimonError(f"cannot open Paimon table {self.identifier(name)}: {error}") from error

    def latest_snapshot_id(self, name: str) -> int | None:
        snapshot = self.table(name).snapshot_manager().get_latest_snapshot()
        return None if snapshot is None else int(snapshot.id)

    def read_arrow(
        self,
        name: str,
        *,
        columns: list[str] | None = None,
        snapshot_id: int | None = None,
        tag: str | None = None,
    ) -> pa.Table:
        """Read the merged (upserted) rows of a table, optionally as of a snapshot or tag."""
        table = self.table(name)
        if snapshot_id is not None:
            table = table.copy({"scan.snapshot-id": str(snapshot_id)})
        elif tag is not None:
            table = table.copy({"scan.tag-name": tag})
        builder = table.new_read_builder()
        if columns:
            builder = builder.with_projection(columns)
        splits = builder.new_scan().plan().splits()
        result: pa.Table = builder.new_read().to_arrow(splits)
        return result

    def create_tag(self, name: str, tag: str, snapshot_id: int | None = None) -> None:
        self.table(name).create_tag(tag, snapshot_id=snapshot_id, ignore_if_exists=True)

    def list_tags(self, name: str) -> list[str]:
        return sorted(str(t) for t in self.table(name).list_tags())

    def snapshots(self, name: str) -> list[dict[str, Any]]:
        snaps = self.table(name).snapshot_manager().list_snapshots()
        return [
            {
                "id": s.id,
                "commit_user": s.commit_user,
                "commit_identifier": s.commit_identifier,
                "time_millis": s.time_millis,
                "total_record_count": s.total_record_count,
                "schema_id": s.schema_id,
            }
            for s in snaps
        ]

    def last_commit_identifier(self, name: str, commit_user: str, lookback: int = 200) -> int | None:
        """The newest commit identifier ``commit_user`` published, looking back ``lookback`` snapshots.

        pypaimon does not filter already-committed identifiers the way Paimon's Java committer
        does, so a restarted writer resumes its sequence from here to keep it increasing.
        """
        manager = self.table(name).snapshot_manager()
        latest = manager.get_latest_snapshot()
        if latest is None:
            return None
        snapshot_id = int(latest.id)
        floor = max(1, snapshot_id - lookback + 1)
        while snapshot_id >= floor:
            snap = manager.get_snapshot_by_id(snapshot_id)
            if snap is not None and snap.commit_user == commit_user:
                return int(snap.commit_identifier)
            snapshot_id -= 1
        return None

    def sql(self, query: str) -> pa.Table:
        """Run SQL over the warehouse with pypaimon's embedded DataFusion engine."""
        from pypaimon import SQLContext

        ctx = SQLContext()
        ctx.register_catalog("paimon", {"warehouse": self.warehouse}, default_database=self.database)
        ctx.set_current_catalog("paimon")
        ctx.set_current_database(self.database)
        batches = ctx.sql(query)
        if not batches:
            return pa.table({})
        return pa.Table.from_batches(batches)
