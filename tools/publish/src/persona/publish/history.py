"""The history catalog: main's publications kept as Iceberg snapshot history, with Iceberg tags.

Nessie 0.99's Iceberg REST catalog serves each table with its current snapshot only and keeps no
table-level refs, so SQL engines cannot read an older publication there with ``FOR VERSION AS OF``
(a snapshot id or a tag name) or ``FOR TIMESTAMP AS OF``. The history catalog is Apache Iceberg's own
REST catalog server (the ``iceberg-rest`` service of the local stack): each publication of main
**appends** one snapshot to the table there (the previous ones stay), its summary names the Paimon
snapshot, and a publication by tag (``rfm-YYYYMMDD``, ``release-*``) sets an Iceberg tag of that name
on it. Branches stay Nessie's; the history catalog has main only.

Idempotent like the Nessie publication: a table whose history already holds the snapshot (its table
properties say so, ``persona.publish.plan.decide``) is not written again, only tagged when asked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.catalog import Catalog

from persona.iceberg import (
    IcebergError,
    S3Options,
    replace_contents,
    rest_catalog,
    snapshot_with,
    summary_values,
    table_properties,
    tag_snapshot,
)
from persona.publish.plan import MARK_SNAPSHOT, NAMESPACE, Source, decide, is_older, marks

log = logging.getLogger(__name__)

# Reads a source's rows as published (erased customers left out): the publisher's Paimon read.
ReadRows = Callable[[Source], pa.Table]


@dataclass(frozen=True)
class HistoryOutcome:
    """What one publication did in the history catalog with one table."""

    table: str
    action: str  # "appended", "unchanged" or "not tagged"
    snapshot_id: int | None
    tag: str | None = None

    def describe(self) -> str:
        tagged = f", tagged {self.tag}" if self.tag is not None and self.action != "not tagged" else ""
        if self.action == "appended":
            return f"{self.table}: appended snapshot {self.snapshot_id}{tagged}"
        if self.action == "unchanged":
            return f"{self.table}: unchanged (snapshot {self.snapshot_id}){tagged}"
        return (
            f"{self.table}: tag {self.tag} not set (its Paimon snapshot is older than the history's "
            "current one and was never published here)"
        )


class HistoryCatalog:
    """Writes main's publications into the history catalog at ``uri`` (data files on ``s3``)."""

    def __init__(self, uri: str, s3: S3Options) -> None:
        self.uri = uri.rstrip("/")
        self.s3 = s3
        self._catalog: Catalog | None = None

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = rest_catalog(self.uri, self.s3)
        return self._catalog

    def record(
        self,
        source: Source,
        erased_mark: str,
        read: ReadRows,
        tag: str | None = None,
    ) -> HistoryOutcome:
        """Append ``source`` as a new snapshot unless the history holds it already, then set ``tag``.

        A tag published late (its Paimon snapshot older than the one the history holds) is set on the
        history's snapshot of that Paimon snapshot when there is one: appending it would make the
        current read go back in time.
        """
        identifier = f"{NAMESPACE}.{source.table}"
        try:
            held = table_properties(self.catalog, identifier)
            if tag is not None and is_older(held, source):
                table = self.catalog.load_table(identifier)
                found = snapshot_with(table, MARK_SNAPSHOT, str(source.snapshot_id))
                if found is None:
                    return HistoryOutcome(source.table, "not tagged", None, tag)
                tag_snapshot(table, tag, found)
                return HistoryOutcome(source.table, "unchanged", found, tag)
            decision = decide(held, source, erased_mark)
            action = "unchanged"
            if decision.publish:
                summary = marks(source, erased_mark)
                replace_contents(
                    self.catalog, identifier, read(source), properties=summary, snapshot_properties=summary
                )
                action = "appended"
            table = self.catalog.load_table(identifier)
            snapshot = table.current_snapshot()
            snapshot_id = None if snapshot is None else snapshot.snapshot_id
            if tag is not None and snapshot_id is not None:
                tag_snapshot(table, tag, snapshot_id)
            return HistoryOutcome(source.table, action, snapshot_id, tag)
        except IcebergError as error:
            raise IcebergError(f"history catalog {self.uri}: {error}") from None
        except Exception as error:  # pyiceberg raises its own types for a refusing catalog
            raise IcebergError(f"history catalog {self.uri}: {identifier}: {error}") from None

    def paimon_snapshots(self, table: str) -> dict[int, int]:
        """Per Iceberg snapshot of ``table`` that a publication appended, the Paimon snapshot it holds."""
        loaded = self.catalog.load_table(f"{NAMESPACE}.{table}")
        return {i: int(v) for i, v in summary_values(loaded, MARK_SNAPSHOT).items() if v.isdigit()}
