"""The pure part of the Iceberg publication: which snapshot, whether to publish it again, the commit
message, the nightly tags to follow, and the erased customers' rows left out."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from persona.localstack.catalog import PUBLICATION_NAMESPACE
from persona.localstack.sqlengine import DEFAULT_SCHEMA
from persona.paimon import latest_erasures
from persona.publish import plan
from persona.publish.erasure import without_erased
from persona.publish.plan import (
    MARK_ERASURES,
    MARK_SNAPSHOT,
    MARK_TABLE,
    PUBLISHED_TABLES,
    Source,
    choose_snapshot,
    commit_message,
    decide,
    erasures_mark,
    is_older,
    marks,
    nessie_ref,
    parse_tables,
    pending_rfm_tags,
    published_source,
)

SEGMENTS = Source("marketing_segments", "main", 812)


def test_tables_default_to_all_three_in_publication_order_and_unknown_ones_are_refused() -> None:
    assert parse_tables(None) == PUBLISHED_TABLES
    assert parse_tables("segment_decisions, marketing_segments") == (
        "marketing_segments",
        "segment_decisions",
    )
    with pytest.raises(ValueError, match="cannot publish erasures"):
        parse_tables("erasures,marketing_segments")


def test_references_carry_the_prefix() -> None:
    assert nessie_ref("", "main") == "main"
    assert nessie_ref("t1-", "main") == "t1-main"
    assert nessie_ref("t1-", "rfm-20261206") == "t1-rfm-20261206"
    assert Source("marketing_segments", "mkt-v2", 3).paimon_table == "marketing_segments$branch_mkt-v2"


def test_the_snapshot_is_the_explicit_one_else_the_tags_else_the_latest() -> None:
    assert choose_snapshot(snapshot=5, tag=None, tag_snapshot=None, latest=9) == (5, None, "")
    assert choose_snapshot(snapshot=None, tag="rfm-20261206", tag_snapshot=7, latest=9) == (
        7,
        "rfm-20261206",
        "",
    )
    chosen, tag, note = choose_snapshot(snapshot=None, tag="rfm-20261206", tag_snapshot=None, latest=9)
    assert (chosen, tag) == (9, None) and "no tag rfm-20261206" in note
    assert choose_snapshot(snapshot=None, tag=None, tag_snapshot=None, latest=None) == (
        None,
        None,
        "no snapshot yet",
    )


def test_a_published_snapshot_is_not_published_again() -> None:
    mark = erasures_mark({})
    held = marks(SEGMENTS, mark)
    assert held[MARK_TABLE] == "marketing_segments" and held[MARK_SNAPSHOT] == "812"
    assert decide(held, SEGMENTS, mark).publish is False
    assert decide(None, SEGMENTS, mark).publish is True
    assert decide({}, SEGMENTS, mark).publish is True  # a table persona did not publish
    newer = Source("marketing_segments", "main", 813)
    assert decide(held, newer, mark).publish is True
    # The same snapshot id of a branch is another table's: published again.
    assert decide(held, Source("marketing_segments", "mkt-v2", 812), mark).publish is True
    # So is the same table and snapshot id of another warehouse.
    elsewhere = Source("marketing_segments", "main", 812, warehouse="/data/other")
    assert decide(held, elsewhere, mark).publish is True
    assert decide(marks(elsewhere, mark), elsewhere, mark).publish is False


def test_a_new_erasure_publishes_the_same_snapshot_again() -> None:
    before = erasures_mark({3: 1_000})
    held = marks(SEGMENTS, before)
    assert held[MARK_ERASURES] == "1@1000"
    after = erasures_mark({3: 1_000, 7: 2_000})
    decision = decide(held, SEGMENTS, after)
    assert decision.publish is True and "erasures" in decision.why
    assert decide(held, SEGMENTS, before).publish is False


def test_an_older_snapshot_of_the_same_table_is_recognised() -> None:
    held = marks(SEGMENTS, "0")
    assert is_older(held, Source("marketing_segments", "main", 700))
    assert not is_older(held, Source("marketing_segments", "main", 900))
    assert not is_older(held, Source("marketing_segments", "mkt-v2", 700))
    assert not is_older(None, SEGMENTS)


def test_the_commit_message_names_the_paimon_snapshots_and_tags() -> None:
    profile = Source("customer_profile", "main", 40, "rfm-20261206")
    branch = Source("segment_decisions", "mkt-v2", 9)
    assert commit_message("main", [SEGMENTS, profile], 0) == (
        "persona publish to main: marketing_segments snapshot 812, "
        "customer_profile tag rfm-20261206 (snapshot 40)"
    )
    assert commit_message("mkt-v2", [branch], 2, "rfm-20261206") == (
        "persona publish to mkt-v2: segment_decisions@mkt-v2 snapshot 9; tagged rfm-20261206; "
        "2 erased customers excluded"
    )


def test_nightly_tags_missing_or_moved_are_followed_in_date_order() -> None:
    paimon = {"rfm-20261206": 12, "rfm-20261205": 10, "rfm-20261204": 8, "release-1-v2": 11}
    published = {"rfm-20261204": 8, "rfm-20261206": 11}
    assert pending_rfm_tags(paimon, published) == ["rfm-20261205", "rfm-20261206"]
    assert pending_rfm_tags({"rfm-20261204": 8}, {"rfm-20261204": 8}) == []


def _ms(value: dt.datetime) -> int:
    return int(value.replace(tzinfo=dt.UTC).timestamp() * 1000)


ERASED_AT = dt.datetime(2026, 12, 2, 12, 0)


def test_erased_customers_take_their_newest_erasure() -> None:
    # persona.paimon.latest_erasures: what the publication (and the RFM job) read of `erasures`.
    erasures = pa.table(
        {
            "customer_id": pa.array([3, 3, 5], pa.int64()),
            "requested_at": pa.array(
                [ERASED_AT, ERASED_AT + dt.timedelta(days=1), ERASED_AT], pa.timestamp("ms")
            ),
        }
    )
    assert latest_erasures(erasures) == {3: _ms(ERASED_AT + dt.timedelta(days=1)), 5: _ms(ERASED_AT)}


def test_an_erased_customers_past_rows_are_left_out_and_a_comebacks_kept() -> None:
    before, after = ERASED_AT - dt.timedelta(hours=1), ERASED_AT + dt.timedelta(hours=1)
    rows = pa.table(
        {
            "customer_id": pa.array([1, 3, 3, 5, 6], pa.int64()),
            # 5: no event time, judged by updated_at (a comeback); 6: no time at all, stays erased.
            "event_time": pa.array([before, before, after, None, None], pa.timestamp("ms")),
            "updated_at": pa.array([before, before, after, after, None], pa.timestamp("ms")),
        }
    )
    kept, left_out = without_erased(rows, {3: _ms(ERASED_AT), 5: _ms(ERASED_AT), 6: _ms(ERASED_AT)})
    assert left_out == 2
    assert kept.to_pydict()["customer_id"] == [1, 3, 5]
    assert kept.column("event_time").to_pylist()[1] == after
    assert without_erased(rows, {}) == (rows, 0)


def test_a_profile_is_judged_by_its_rfm_as_of_day() -> None:
    profiles = pa.table(
        {
            "customer_id": pa.array([3, 3, 4], pa.int64()),
            "rfm_as_of": pa.array(
                [dt.date(2026, 12, 1), dt.date(2026, 12, 3), dt.date(2026, 12, 1)], pa.date32()
            ),
        }
    )
    kept, left_out = without_erased(profiles, {3: _ms(ERASED_AT)})
    assert left_out == 1
    assert kept.to_pylist() == [
        {"customer_id": 3, "rfm_as_of": dt.date(2026, 12, 3)},
        {"customer_id": 4, "rfm_as_of": dt.date(2026, 12, 1)},
    ]


def test_the_publication_namespace_is_the_one_the_stack_creates_and_trino_reads() -> None:
    assert plan.NAMESPACE == PUBLICATION_NAMESPACE == DEFAULT_SCHEMA


def test_the_source_a_publication_names_is_read_back_from_its_marks() -> None:
    on_branch = Source("marketing_segments", "mkt-v2", 21, "release-1-v2", "/w")
    for source in (SEGMENTS, on_branch, Source("customer_profile", "main", 3, None, "/w")):
        assert published_source(source.table, marks(source, "0")) == source
    assert published_source("marketing_segments", None) is None
    assert published_source("marketing_segments", {MARK_SNAPSHOT: ""}) is None
