"""The Paimon adapter against a real on-disk warehouse (pypaimon + pypaimon-rust)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypaimon.read.table_read import TableRead

from persona.paimon import PaimonWarehouse, TableWriter, ensure_tables
from persona.paimon.schema import NATIVE_OPTIONS, TABLES

pytestmark = pytest.mark.integration


def _segment_row(customer_id: int, segment: str, version: int) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "segment": segment,
        "recommendation": [f"sku:{customer_id}"],
        "score": float(version),
        "updated_at": dt.datetime(2026, 11, 1, 12, 0, version),
        "event_time": dt.datetime(2026, 11, 1, 11, 59, version),
        "logic_version": "v1",
        "version": version,
    }


def test_bootstrap_is_idempotent_and_sets_native_options(tmp_path: Path) -> None:
    assert ensure_tables(tmp_path) == [spec.name for spec in TABLES]
    assert ensure_tables(tmp_path) == []
    warehouse = PaimonWarehouse(tmp_path)
    for spec in TABLES:
        options = warehouse.table(spec.name).table_schema.options
        for key, value in NATIVE_OPTIONS.items():
            assert options[key] == value, (spec.name, key)
        assert warehouse.table(spec.name).table_schema.primary_keys == list(spec.primary_keys)


def test_two_commits_merge_as_upsert_through_the_native_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_tables(tmp_path)
    warehouse = PaimonWarehouse(tmp_path)
    writer = TableWriter(warehouse, "marketing_segments", commit_user="test-writer")
    assert writer.uses_native_write, "the Rust writer must be the one in use"

    writer.extend(_segment_row(c, "DORMANT", 1) for c in (1, 2, 3))
    first = writer.commit()
    writer.extend([_segment_row(2, "ACTIVE", 2), _segment_row(4, "ACTIVE", 2)])
    second = writer.commit()
    assert writer.commit() is None, "an empty buffer publishes no snapshot"
    writer.close()
    assert first is not None and second is not None
    assert (first.commit_identifier, second.commit_identifier) == (1, 2)
    assert first.snapshot_id is not None and second.snapshot_id == first.snapshot_id + 1

    fallbacks: list[str] = []
    original = TableRead._native_fallback

    def record_fallback(self: TableRead, reason: str, *args: Any, **kwargs: Any) -> Any:
        fallbacks.append(reason)
        return original(self, reason, *args, **kwargs)

    monkeypatch.setattr(TableRead, "_native_fallback", record_fallback)
    rows = sorted(warehouse.read_arrow("marketing_segments").to_pylist(), key=lambda r: r["customer_id"])
    assert fallbacks == [], f"read fell back to Python: {fallbacks}"
    assert [(r["customer_id"], r["segment"], r["version"]) for r in rows] == [
        (1, "DORMANT", 1),
        (2, "ACTIVE", 2),
        (3, "DORMANT", 1),
        (4, "ACTIVE", 2),
    ]
    # Time travel to the first snapshot still shows the old row of customer 2.
    old = warehouse.read_arrow("marketing_segments", snapshot_id=first.snapshot_id).to_pylist()
    assert {r["customer_id"]: r["segment"] for r in old} == {1: "DORMANT", 2: "DORMANT", 3: "DORMANT"}


def test_restarted_writer_keeps_commit_identifiers_increasing(tmp_path: Path) -> None:
    ensure_tables(tmp_path)
    warehouse = PaimonWarehouse(tmp_path)
    writer = TableWriter(warehouse, "marketing_segments", commit_user="sink-0")
    writer.add(_segment_row(1, "ACTIVE", 1))
    writer.commit()
    writer.add(_segment_row(1, "ACTIVE", 2))
    writer.commit()
    writer.close()
    # Another user's commits in between must not confuse the sequence.
    other = TableWriter(warehouse, "marketing_segments", commit_user="someone-else")
    other.add(_segment_row(9, "DORMANT", 1))
    other.commit()
    other.close()

    restarted = TableWriter(warehouse, "marketing_segments", commit_user="sink-0")
    restarted.add(_segment_row(1, "DORMANT", 3))
    result = restarted.commit()
    restarted.close()
    assert result is not None and result.commit_identifier == 3
    identifiers = [
        s["commit_identifier"]
        for s in warehouse.snapshots("marketing_segments")
        if s["commit_user"] == "sink-0"
    ]
    assert identifiers == [1, 2, 3]


def test_sql_reads_tables_system_tables_and_versions(tmp_path: Path) -> None:
    ensure_tables(tmp_path)
    warehouse = PaimonWarehouse(tmp_path)
    writer = TableWriter(warehouse, "customer_profile", commit_user="t")
    writer.add(
        {
            "customer_id": 7,
            "segment": "VIP",
            "recency": 3,
            "frequency": 12,
            "monetary": Decimal("1234.50"),
            "lifecycle_stage": "active",
            "rfm_as_of": dt.date(2026, 11, 1),
        }
    )
    first = writer.commit()
    writer.add(
        {
            "customer_id": 7,
            "segment": "LOYAL",
            "recency": 9,
            "frequency": 12,
            "monetary": Decimal("1234.50"),
            "lifecycle_stage": "active",
            "rfm_as_of": dt.date(2026, 11, 2),
        }
    )
    writer.commit()
    writer.close()
    assert first is not None
    warehouse.create_tag("customer_profile", "rfm-20261101", snapshot_id=first.snapshot_id)

    now = warehouse.sql("SELECT segment, monetary FROM customer_profile WHERE customer_id = 7").to_pylist()
    assert now == [{"segment": "LOYAL", "monetary": Decimal("1234.50")}]
    then = warehouse.sql(
        f"SELECT segment FROM customer_profile VERSION AS OF {first.snapshot_id}"
    ).to_pylist()
    assert then == [{"segment": "VIP"}]
    by_tag = warehouse.read_arrow("customer_profile", tag="rfm-20261101").to_pylist()
    assert [r["segment"] for r in by_tag] == ["VIP"]
    snaps = warehouse.sql('SELECT count(*) AS n FROM "customer_profile$snapshots"').to_pylist()
    assert snaps == [{"n": 2}]


def test_add_column_keeps_old_rows_null_and_writer_follows(tmp_path: Path) -> None:
    ensure_tables(tmp_path)
    warehouse = PaimonWarehouse(tmp_path)
    writer = TableWriter(warehouse, "marketing_segments", commit_user="t")
    writer.add(_segment_row(1, "ACTIVE", 1))
    writer.commit()
    writer.close()
    warehouse.sql("ALTER TABLE marketing_segments ADD COLUMN channel_preference STRING")
    writer = TableWriter(warehouse, "marketing_segments", commit_user="t")
    writer.add({**_segment_row(2, "ACTIVE", 1), "channel_preference": "email"})
    writer.commit()
    writer.close()
    rows = {
        r["customer_id"]: r["channel_preference"]
        for r in warehouse.read_arrow("marketing_segments").to_pylist()
    }
    assert rows == {1: None, 2: "email"}
