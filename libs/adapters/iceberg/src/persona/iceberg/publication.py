"""Iceberg tables in an Iceberg REST catalog (Nessie's ``/iceberg``) through pyiceberg, with data files
in S3 (s3proxy locally).

The publication of persona's Paimon tables (DESIGN §6): each publish writes a table's current snapshot
as one Iceberg snapshot on the Nessie branch the catalog URI names, so SQL engines read any branch,
tag or point in time.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError
from pyiceberg.io.pyarrow import _check_pyarrow_schema_compatible, _dataframe_to_data_files
from pyiceberg.table import DOWNCAST_NS_TIMESTAMP_TO_US_ON_WRITE, Table, Transaction
from pyiceberg.table.snapshots import Operation
from pyiceberg.utils.config import Config

from persona.iceberg.compat import LastColumnIdAdapter


class IcebergError(Exception):
    """A catalog or object-store failure while publishing or reading an Iceberg table."""


@dataclass(frozen=True)
class S3Options:
    """Where the data files live and the credentials to write them (never logged: see __repr__)."""

    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    path_style: bool = True

    def __repr__(self) -> str:
        return f"S3Options(endpoint={self.endpoint!r}, access_key={self.access_key!r}, secret_key='REDACTED')"

    def properties(self) -> dict[str, str]:
        return {
            "s3.endpoint": self.endpoint,
            "s3.access-key-id": self.access_key,
            "s3.secret-access-key": self.secret_key,
            "s3.region": self.region,
            "s3.path-style-access": "true" if self.path_style else "false",
        }


@dataclass(frozen=True)
class PublishResult:
    identifier: str
    snapshot_id: int
    rows: int
    created: bool


def rest_catalog(uri: str, s3: S3Options, *, name: str = "persona", warehouse: str | None = None) -> Catalog:
    """The Iceberg REST catalog at ``uri`` (Nessie: ``http://host:19120/iceberg/<branch>``)."""
    properties: dict[str, str] = {"uri": uri, **s3.properties()}
    if warehouse is not None:
        properties["warehouse"] = warehouse
    try:
        catalog = RestCatalog(name, **properties)
    except Exception as error:  # pyiceberg raises many types for an unreachable or refusing catalog
        raise IcebergError(f"cannot open the Iceberg REST catalog {uri}: {error}") from error
    # Schema changes as Nessie 0.99 reads them (persona.iceberg.compat), on every URL of the server.
    parts = urllib.parse.urlsplit(uri)
    catalog._session.mount(f"{parts.scheme}://{parts.netloc}/", LastColumnIdAdapter())
    return catalog


def ensure_namespace(catalog: Catalog, namespace: str) -> None:
    with contextlib.suppress(NamespaceAlreadyExistsError):
        catalog.create_namespace(namespace)


def replace_contents(
    catalog: Catalog,
    identifier: str,
    data: pa.Table,
    *,
    properties: Mapping[str, str] | None = None,
    snapshot_properties: Mapping[str, str] | None = None,
) -> PublishResult:
    """Make ``identifier`` hold exactly ``data`` in one new snapshot (created with its schema if missing),
    and set the table ``properties`` in the same commit.

    An overwrite, not an append of a delta: the Paimon snapshot being published is the truth, so rows
    deleted there (a GDPR erasure, a customer leaving) disappear here too, and the work is one write
    of the table whatever happened between two publishes. Columns ``data`` has and the table lacks are
    added first (schema evolution: the older publication reads them as null). The properties are table
    properties, not snapshot summary properties: Nessie 0.99's catalog keeps a snapshot's operation
    but drops the rest of its summary. ``snapshot_properties`` go into the new snapshot's summary too,
    for catalogs that keep it (Apache Iceberg's own: the history catalog).
    """
    namespace = identifier.split(".", 1)[0]
    ensure_namespace(catalog, namespace)
    created = False
    wanted = dict(properties or {})
    summary = dict(snapshot_properties or {})
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        table = catalog.create_table(identifier, schema=data.schema, properties=wanted)
        created = True
    try:
        missing = [name for name in data.schema.names if name not in table.schema().column_names]
        if missing:
            with table.update_schema() as update:
                update.union_by_name(data.schema)
        with table.transaction() as transaction:
            if wanted and not created:
                transaction.set_properties(wanted)
            if table.current_snapshot() is None:
                # Nothing to replace yet (pyiceberg warns when an overwrite deletes nothing).
                transaction.append(data, snapshot_properties=summary)
            else:
                _overwrite_in_one_snapshot(table, transaction, data, summary)
    except Exception as error:
        raise IcebergError(f"overwriting {identifier} failed: {error}") from error
    table = catalog.load_table(identifier)
    snapshot = table.current_snapshot()
    if snapshot is None:
        raise IcebergError(f"{identifier} has no snapshot after an overwrite")
    return PublishResult(
        identifier=identifier, snapshot_id=snapshot.snapshot_id, rows=data.num_rows, created=created
    )


def _overwrite_in_one_snapshot(
    table: Table, transaction: Transaction, data: pa.Table, summary: dict[str, str]
) -> None:
    """Every data file of ``table`` out and ``data``'s in, as one OVERWRITE snapshot.

    pyiceberg's ``Transaction.overwrite`` commits two snapshots, a delete and then an append: in a
    catalog that keeps history (the history catalog), a ``FOR TIMESTAMP AS OF`` between the two read
    an empty table, and the delete counted as a publication. A table with delete files (never written
    by persona) keeps pyiceberg's way, which rewrites them."""
    tasks = list(table.scan().plan_files())
    if any(task.delete_files for task in tasks):
        transaction.overwrite(data, snapshot_properties=summary)
        return
    downcast = Config().get_bool(DOWNCAST_NS_TIMESTAMP_TO_US_ON_WRITE) or False
    metadata = transaction.table_metadata
    _check_pyarrow_schema_compatible(
        metadata.schema(),
        provided_schema=data.schema,
        downcast_ns_timestamp_to_us=downcast,
        format_version=metadata.format_version,
    )
    with transaction.update_snapshot(snapshot_properties=summary).overwrite() as overwrite:
        for task in tasks:
            overwrite.delete_data_file(task.file)
        if data.num_rows:
            for data_file in _dataframe_to_data_files(
                table_metadata=metadata, write_uuid=overwrite.commit_uuid, df=data, io=table.io
            ):
                overwrite.append_data_file(data_file)


def table_properties(catalog: Catalog, identifier: str) -> dict[str, str] | None:
    """The table's properties, or None when the catalog has no such table."""
    try:
        return dict(catalog.load_table(identifier).properties)
    except NoSuchTableError:
        return None


def tag_snapshot(table: Table, tag: str, snapshot_id: int | None = None) -> None:
    """An Iceberg tag (a table-level ref, what `FOR VERSION AS OF 'tag'` reads) on a snapshot."""
    target = snapshot_id if snapshot_id is not None else _current_snapshot_id(table)
    if tag in table.metadata.refs:
        table.manage_snapshots().remove_tag(tag).commit()
    table.manage_snapshots().create_tag(target, tag).commit()


def summary_values(table: Table, key: str) -> dict[int, str]:
    """Per snapshot that wrote rows, oldest first, the value its summary has for ``key`` (snapshots
    without it left out). An overwrite is a delete snapshot then an append one, both with the summary:
    the delete (no rows) is never one of them."""
    written = sorted(
        (s for s in table.snapshots() if s.summary is not None and s.summary.operation != Operation.DELETE),
        key=lambda snapshot: snapshot.timestamp_ms,
    )
    return {s.snapshot_id: value for s in written if s.summary is not None and (value := s.summary.get(key))}


def snapshot_with(table: Table, key: str, value: str) -> int | None:
    """The newest snapshot that wrote rows and whose summary says ``key`` = ``value`` (None: none)."""
    found = [snapshot_id for snapshot_id, held in summary_values(table, key).items() if held == value]
    return found[-1] if found else None


def _current_snapshot_id(table: Table) -> int:
    snapshot = table.current_snapshot()
    if snapshot is None:
        raise IcebergError(f"{table.name()} has no snapshot to tag")
    return snapshot.snapshot_id


def read_all(catalog: Catalog, identifier: str, snapshot_id: int | None = None) -> pa.Table:
    table = catalog.load_table(identifier)
    scan: Any = table.scan(snapshot_id=snapshot_id) if snapshot_id is not None else table.scan()
    result: pa.Table = scan.to_arrow()
    return result


def row_count(catalog: Catalog, identifier: str) -> int:
    rows: int = read_all(catalog, identifier).num_rows
    return rows
