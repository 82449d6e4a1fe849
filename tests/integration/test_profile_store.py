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


def _loaded_untagged(tmp_path: Path) -> tuple[PaimonWarehouse, int, PaimonProfileStore, Clock]:
    """A store that has loaded a snapshot no tag names (yet)."""
    ensure_tables(tmp_path)
    warehouse = PaimonWarehouse(tmp_path)
    writer = TableWriter(warehouse, "customer_profile", commit_user="nightly")
    writer.extend([_profile(1, "VIP", dt.date(2026, 11, 27))])
    committed = writer.commit()
    writer.close()
    assert committed is not None and committed.snapshot_id is not None
    clock = Clock()
    store = PaimonProfileStore(warehouse, refresh_seconds=5, clock=clock)
    assert store.maybe_refresh() is True
    return warehouse, committed.snapshot_id, store, clock


def test_a_snapshot_tagged_after_it_was_loaded_is_relabelled_with_its_tag(tmp_path: Path) -> None:
    """The RFM job commits, then tags: the flow may load in between and must still name the tag."""
    warehouse, snapshot_id, store, clock = _loaded_untagged(tmp_path)
    assert store.get(1).snapshot == f"snapshot:{snapshot_id}"  # type: ignore[union-attr]

    warehouse.create_tag("customer_profile", "rfm-20261127", snapshot_id=snapshot_id)
    clock.now += 5
    assert store.maybe_refresh() is False, "relabelling is not a reload"
    assert store.get(1).snapshot == "rfm-20261127"  # type: ignore[union-attr]
    assert store.label == "rfm-20261127"
    assert store.loads == 1


def test_an_untagged_snapshot_stops_being_checked_after_the_tag_wait(tmp_path: Path) -> None:
    from persona.paimon.profiles import TAG_WAIT_SECONDS

    warehouse, snapshot_id, store, clock = _loaded_untagged(tmp_path)
    clock.now += TAG_WAIT_SECONDS + 1
    store.maybe_refresh()  # past the wait: the store gives up on a tag for this snapshot
    warehouse.create_tag("customer_profile", "late-tag", snapshot_id=snapshot_id)
    clock.now += 5
    store.maybe_refresh()
    assert store.label == f"snapshot:{snapshot_id}"
