"""Time travel helpers of persona.logic: the snapshot in force at a time and the release in force."""

from __future__ import annotations

from persona.logic import release_in_force, snapshot_at_or_before
from persona.paimon.logic_store import Release


def test_the_snapshot_in_force_is_the_newest_committed_at_or_before_the_time() -> None:
    snaps = [{"id": 1, "time_millis": 100}, {"id": 3, "time_millis": 300}, {"id": 2, "time_millis": 200}]
    assert snapshot_at_or_before(snaps, 99) is None
    assert snapshot_at_or_before(snaps, 100) == 1
    assert snapshot_at_or_before(snaps, 250) == 2
    assert snapshot_at_or_before(snaps, 10**13) == 3


def test_the_release_in_force_is_the_newest_made_at_or_before_the_time() -> None:
    releases = [
        Release(1, "v2", "mkt-v2", 1_000, "ana", "go", "release-1-v2"),
        Release(2, "v1", "rollback", 2_000, "bo", "undo", "release-2-v1"),
    ]
    assert release_in_force(releases, 999) is None
    assert release_in_force(releases, 1_000) == releases[0]
    assert release_in_force(releases, 5_000) == releases[1]
