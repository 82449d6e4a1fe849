"""Profiles come from Paimon once and are reloaded only when customer_profile gets a new snapshot."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from persona.paimon import PaimonWarehouse, TableWriter, ensure_tables
from persona.paimon.profiles import PaimonProfileStore

pytestmark = pytest.mark.integration


def _profile(customer_id: int, segment: str, as_of: dt.date) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "segment": segment,
        "recency": 3,
        "frequency": 4,
        "monetary": Decimal("99.50"),
        "lifecycle_stage": "active",
        "rfm_as_of": as_of,
    }


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_reload_on_new_snapshot_only_and_label_by_tag(tmp_path: Path) -> None:
    ensure_tables(tmp_path)
    warehouse = PaimonWarehouse(tmp_path)
    writer = TableWriter(warehouse, "customer_profile", commit_user="nightly")
    writer.extend([_profile(1, "VIP", dt.date(2026, 11, 20)), _profile(2, "NEW", dt.date(2026, 11, 20))])
    first = writer.commit()
    assert first is not None
    warehouse.create_tag("customer_profile", "rfm-20261120", snapshot_id=first.snapshot_id)

    clock = Clock()
    store = PaimonProfileStore(warehouse, refresh_seconds=5, clock=clock)
    assert store.maybe_refresh() is True
    profile = store.get(1)
    assert profile is not None and profile.segment == "VIP" and profile.monetary == Decimal("99.50")
    assert profile.snapshot == "rfm-20261120", "the nightly tag names the profile version used"
    assert store.get(3) is None

    clock.now += 10
    assert store.maybe_refresh() is False, "no new snapshot: no reload"
    writer.add(_profile(1, "LOYAL", dt.date(2026, 11, 21)))
    second = writer.commit()
    writer.close()
    assert second is not None
    clock.now += 1
    assert store.maybe_refresh() is False, "checked at most every refresh_seconds"
    assert store.get(1).segment == "VIP"  # type: ignore[union-attr]
    clock.now += 5
    assert store.maybe_refresh() is True
    assert store.get(1).segment == "LOYAL"  # type: ignore[union-attr]
    assert store.get(1).snapshot == f"snapshot:{second.snapshot_id}"  # type: ignore[union-attr]
    assert store.loads == 2
