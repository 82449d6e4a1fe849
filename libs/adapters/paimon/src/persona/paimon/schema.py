"""Table definitions of the warehouse (DESIGN §3) and their idempotent bootstrap."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from persona.paimon.catalog import PaimonWarehouse

DATABASE = "persona"

# The Rust path writes and reads primary-key tables far faster than pypaimon's Python merge (DESIGN
# §8, BENCHMARKS.md). pypaimon 2.1.0 only publishes commits natively through a REST catalog; on the
# filesystem catalog the commit option is accepted and the (already fast) Python commit runs instead.
NATIVE_OPTIONS: dict[str, str] = {
    "write.native.enabled": "true",
    "read.native.enabled": "true",
    "scan.native-plan.enabled": "true",
    "commit.native.enabled": "true",
}


@dataclass(frozen=True)
class TableSpec:
    name: str
    schema: pa.Schema
    primary_keys: tuple[str, ...]
    partition_keys: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)

    @property
    def identifier(self) -> str:
        return f"{DATABASE}.{self.name}"

    def all_options(self) -> dict[str, str]:
        return {**NATIVE_OPTIONS, **self.options}


def _not_null(name: str, type_: pa.DataType) -> pa.Field:
    return pa.field(name, type_, nullable=False)


CUSTOMER_PROFILE = TableSpec(
    name="customer_profile",
    schema=pa.schema(
        [
            _not_null("customer_id", pa.int64()),
            pa.field("segment", pa.string()),
            pa.field("recency", pa.int32()),
            pa.field("frequency", pa.int32()),
            pa.field("monetary", pa.decimal128(12, 2)),
            pa.field("lifecycle_stage", pa.string()),
            pa.field("rfm_as_of", pa.date32()),
        ]
    ),
    primary_keys=("customer_id",),
    options={"bucket": "4"},
)

MARKETING_SEGMENTS = TableSpec(
    name="marketing_segments",
    schema=pa.schema(
        [
            _not_null("customer_id", pa.int64()),
            pa.field("segment", pa.string()),
            pa.field("recommendation", pa.list_(pa.string())),
            pa.field("score", pa.float64()),
            pa.field("updated_at", pa.timestamp("ms")),
            pa.field("event_time", pa.timestamp("ms")),
            pa.field("logic_version", pa.string()),
            # Per-customer version, the same number the Kafka row carries: lets a reader
            # line the table up with marketing_segments_rt.
            pa.field("version", pa.int64()),
        ]
    ),
    primary_keys=("customer_id",),
    options={"bucket": "4"},
)

# One row per emitted decision, keyed by the event's identity (customer_id, event_id) so a replay
# rewrites, never duplicates, and the same event_id of two customers is two rows (README "Input rules
# and identities"). Paimon requires the partition key inside the primary key.
SEGMENT_DECISIONS = TableSpec(
    name="segment_decisions",
    schema=pa.schema(
        [
            _not_null("event_date", pa.string()),
            _not_null("event_id", pa.string()),
            _not_null("customer_id", pa.int64()),
            pa.field("event_time", pa.timestamp("ms")),
            pa.field("event_type", pa.string()),
            pa.field("sku_id", pa.string()),
            pa.field("segment", pa.string()),
            pa.field("rule", pa.string()),
            pa.field("score", pa.float64()),
            pa.field("recommendation", pa.list_(pa.string())),
            pa.field("profile_segment", pa.string()),
            pa.field("profile_recency", pa.int32()),
            pa.field("profile_frequency", pa.int32()),
            pa.field("profile_monetary", pa.decimal128(12, 2)),
            pa.field("profile_rfm_as_of", pa.date32()),
            pa.field("profile_snapshot", pa.int64()),
            pa.field("profile_tag", pa.string()),
            pa.field("effective_recency", pa.int32()),
            pa.field("effective_frequency", pa.int32()),
            pa.field("effective_monetary", pa.decimal128(18, 2)),
            # [{"sku_id": ..., "sellable": n | null}] as seen at decision time (null = unknown).
            pa.field("candidates_json", pa.string()),
            pa.field("logic_version", pa.string()),
            pa.field("decided_at", pa.timestamp("ms")),
            pa.field("version", pa.int64()),
        ]
    ),
    primary_keys=("event_date", "customer_id", "event_id"),
    partition_keys=("event_date",),
    options={"bucket": "4"},
)

# One row per GDPR erasure (docs/erasure.md): who asked, when and why, when the sink applied it and how
# many rows it removed; the customer id is kept as is (it is what keeps the customer erased, and what
# a publisher of the tables — the Iceberg publication — reads to erase them there too).
ERASURES = TableSpec(
    name="erasures",
    schema=pa.schema(
        [
            _not_null("erasure_id", pa.string()),
            _not_null("customer_id", pa.int64()),
            pa.field("reason", pa.string()),
            pa.field("requested_by", pa.string()),
            pa.field("requested_at", pa.timestamp("ms")),
            pa.field("applied_at", pa.timestamp("ms")),
            # Rows deleted per table, as JSON: {"marketing_segments": 1, ...}.
            pa.field("rows_deleted_json", pa.string()),
        ]
    ),
    primary_keys=("erasure_id",),
    options={"bucket": "1"},
)

TABLES: tuple[TableSpec, ...] = (CUSTOMER_PROFILE, MARKETING_SEGMENTS, SEGMENT_DECISIONS, ERASURES)


def ensure_tables(
    warehouse: str | Path,
    *,
    specs: tuple[TableSpec, ...] = TABLES,
    name_suffix: str = "",
) -> list[str]:
    """Create the database and every table that does not exist yet; return the ones created.

    Existing tables are left as they are (a schema that evolved by ADD COLUMN stays evolved), but one
    whose primary key is not this version's is an error (``PaimonError``) naming the table, both keys
    and the recovery: Paimon cannot change a table's key, and writing on under the old one would
    merge rows this version keeps apart. ``name_suffix`` lets tests create a private copy of each table.
    """
    from persona.paimon.catalog import PaimonWarehouse

    store = PaimonWarehouse(warehouse)
    created = store.ensure(specs, name_suffix=name_suffix)
    for spec in specs:
        name = spec.name + name_suffix
        if name not in created:
            check_primary_key(store, spec, name)
    return created


def check_primary_key(store: PaimonWarehouse, spec: TableSpec, name: str) -> None:
    """Raise ``PaimonError`` when table ``name`` (of ``spec``) is not keyed as this version keys it:
    Paimon cannot change a table's key, and writing on under the old one would merge rows this version
    keeps apart. The error names the table, both keys and the recovery."""
    from persona.paimon.catalog import PaimonError

    keys = tuple(store.table(name).table_schema.primary_keys)
    if keys != spec.primary_keys:
        raise PaimonError(
            f"Paimon table {store.identifier(name)} has primary key ({', '.join(keys)}), but this"
            f" persona version keys it ({', '.join(spec.primary_keys)}); Paimon cannot change a"
            f" table's key. Recover by dropping the table — remove its directory"
            f" {store.warehouse}/{store.database}.db/{name} (the local stack: `persona stack down"
            f" --wipe`, then `persona stack up`) — and it is created with the new key; the rows"
            f" it held are lost unless you copy them first (`persona sql`)."
        )
