"""The logic store on a real Paimon warehouse: versions and releases per branch, and the source the
enrich flow reads (main's active version, followed across releases)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from persona.decisions import V1, V2
from persona.paimon import PaimonWarehouse
from persona.paimon.branches import MAIN, PaimonBranches
from persona.paimon.logic_store import LogicStore, PaimonLogicSource

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_versions_and_releases_are_per_branch_and_the_source_follows_main(tmp_path: Path) -> None:
    warehouse = PaimonWarehouse(tmp_path / "wh")
    store = LogicStore(warehouse)
    store.ensure()
    clock = Clock()
    source = PaimonLogicSource(store, refresh_seconds=1.0, clock=clock)
    assert source.maybe_refresh() is False and source.current() is V1  # no release: built-in v1
    assert store.active(MAIN) == (V1, None)

    PaimonBranches(warehouse).create(store.tables, "mkt-v2")
    store.register(V2, "mkt-v2", by="ana", description="win back VIPs")
    made = store.release("v2", "mkt-v2", reason="replay", by="ana")
    assert store.active("mkt-v2") == (V2, made)
    assert store.active(MAIN) == (V1, None) and store.versions(MAIN) == {}, "main is untouched"
    with pytest.raises(KeyError, match="not stored on branch"):
        store.release("v2", MAIN)

    store.register(V2, MAIN, by="ana")
    release = store.release("v2", MAIN, origin="mkt-v2", reason="go live", by="ana", tag="release-1-v2")
    assert (release.release, release.branch, release.tag) == (1, "mkt-v2", "release-1-v2")
    clock.now = 0.5
    assert source.maybe_refresh() is False and source.current() is V1, "not before the refresh interval"
    clock.now = 2.0
    assert source.maybe_refresh() is True and source.current() == V2
    held = source.current()
    clock.now = 4.0
    assert source.maybe_refresh() is False and source.current() is held, "the same version keeps its object"

    # Another version of v2's rules with other thresholds, then back to v1: each release is followed.
    v2b = dataclasses.replace(V2, logic_version="v2b", active_max_recency_days=14)
    store.register(v2b, MAIN)
    store.release("v2b", MAIN, reason="longer activity window")
    clock.now = 6.0
    assert source.maybe_refresh() is True and source.current() == v2b
    assert [r.logic_version for r in store.releases(MAIN)] == ["v2", "v2b"]
    assert store.resolve("v1") == V1 and store.resolve("v2b") == v2b
    with pytest.raises(KeyError, match="unknown logic version"):
        store.resolve("v9")


def test_a_store_that_cannot_be_read_keeps_the_version_in_use(tmp_path: Path) -> None:
    store = LogicStore(PaimonWarehouse(tmp_path / "wh"), "_missing")  # never created
    source = PaimonLogicSource(store, refresh_seconds=0.0, fallback=V2)
    assert source.maybe_refresh() is False and source.current() is V2
