"""Decisions travel from enrich to the sink as Arrow tables of ``segment_decisions`` audit rows; the
sink derives the ``marketing_segments`` upserts from them. These are the rows DESIGN §3 prescribes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec
import orjson
import pyarrow as pa
import pytest

from persona.contracts import (
    ROWS_PER_MESSAGE,
    CandidateSku,
    Decision,
    DecisionAudit,
    DecisionEnvelope,
    DecisionsDecodeError,
    decode_decisions,
    encode_decisions,
)
from persona.flows.sink import latest_segments
from persona.flows.sink.rows import conform, decisions_table
from persona.paimon.schema import MARKETING_SEGMENTS, SEGMENT_DECISIONS

EVENT_MS = 1_795_000_123_456  # 2026-11-18T11:08:43.456Z
DECIDED_MS = EVENT_MS + 1_500


def _envelope(
    event_id: str, version: int, snapshot: str | None, found: bool = True, customer_id: int = 42
) -> DecisionEnvelope:
    audit = DecisionAudit(
        event_id=event_id,
        event_time_ms=EVENT_MS,
        event_type="view",
        event_sku_id="A",
        customer_id=customer_id,
        profile_found=found,
        profile_segment="VIP" if found else None,
        profile_recency=3 if found else None,
        profile_frequency=7 if found else None,
        profile_monetary=Decimal("50.00") if found else None,
        profile_rfm_as_of=dt.date(2026, 11, 17) if found else None,
        profile_snapshot=snapshot,
        adjusting_order_ids=(9, 11),
        recency=1,
        frequency=9,
        monetary=Decimal("75.25"),
        event_sku_sellable=40,
        candidates=(CandidateSku("A", 40), CandidateSku("B", None), CandidateSku("C", 2)),
        rule="vip_and_event_sku_sellable_above_min",
        segment="VIP_HIGH_INVENTORY",
        recommendation=("sku:A", "sku:C"),
        score=10.5 if found else None,
        logic_version="v1",
        decided_at_ms=DECIDED_MS,
    )
    return DecisionEnvelope(version, audit)


def test_audit_rows_carry_every_input_of_the_decision() -> None:
    table = decisions_table(
        [
            _envelope("e-1", 3, "rfm-20261117"),
            _envelope("e-2", 4, "snapshot:12"),
            _envelope("e-3", 5, None, False),
        ],
        SEGMENT_DECISIONS.schema,
    )
    assert table.schema == SEGMENT_DECISIONS.schema
    first, second, third = table.to_pylist()
    assert first["event_date"] == "2026-11-18" and first["event_id"] == "e-1"
    assert first["event_time"] == dt.datetime(2026, 11, 18, 11, 8, 43, 456000)
    assert first["decided_at"] == dt.datetime(2026, 11, 18, 11, 8, 44, 956000)
    assert first["recommendation"] == ["sku:A", "sku:C"] and first["version"] == 3
    assert first["profile_monetary"] == Decimal("50.00") and first["effective_monetary"] == Decimal("75.25")
    assert first["profile_rfm_as_of"] == dt.date(2026, 11, 17)
    assert (first["profile_tag"], first["profile_snapshot"]) == ("rfm-20261117", None)
    assert (second["profile_tag"], second["profile_snapshot"]) == (None, 12)
    assert orjson.loads(first["candidates_json"]) == {
        "event_sku_sellable": 40,
        "adjusting_order_ids": [9, 11],
        "candidates": [
            {"sku_id": "A", "sellable": 40},
            {"sku_id": "B", "sellable": None},
            {"sku_id": "C", "sellable": 2},
        ],
    }
    assert third["profile_segment"] is None and third["profile_monetary"] is None and third["score"] is None


def test_segment_rows_are_the_newest_decision_of_each_customer() -> None:
    decisions = decisions_table(
        [
            _envelope("e-2", 4, None, customer_id=42),
            _envelope("e-1", 3, None, customer_id=42),
            _envelope("e-9", 1, None, customer_id=7),
        ]
    )
    table = latest_segments(decisions, MARKETING_SEGMENTS.schema)
    assert [(r["customer_id"], r["version"]) for r in table.to_pylist()] == [(7, 1), (42, 4)]
    assert (
        table.to_pylist()[1]
        == [
            {
                "customer_id": 42,
                "segment": "VIP_HIGH_INVENTORY",
                "recommendation": ["sku:A", "sku:C"],
                "score": 10.5,
                "updated_at": dt.datetime(2026, 11, 18, 11, 8, 44, 956000),
                "event_time": dt.datetime(2026, 11, 18, 11, 8, 43, 456000),
                "logic_version": "v1",
                "version": 4,
            }
        ][0]
    )


def test_a_column_added_by_schema_evolution_reads_as_null() -> None:
    evolved = MARKETING_SEGMENTS.schema.append(pa.field("channel_preference", pa.string()))
    table = latest_segments(decisions_table([_envelope("e-1", 3, None)]), evolved)
    assert table.schema == evolved and table.column("channel_preference").to_pylist() == [None]
    assert conform({}, evolved, 2).column("customer_id").null_count == 2


def test_a_column_added_by_schema_evolution_is_filled_where_the_decisions_carry_it() -> None:
    evolved = MARKETING_SEGMENTS.schema.append(pa.field("channel_preference", pa.string()))
    decisions = decisions_table(
        [_envelope("e-1", 3, None, customer_id=42), _envelope("e-9", 1, None, customer_id=7)]
    )
    carrying = decisions.append_column("channel_preference", pa.array(["email", None]))
    table = latest_segments(carrying, evolved)
    assert [(r["customer_id"], r["channel_preference"]) for r in table.to_pylist()] == [
        (7, None),
        (42, "email"),
    ]


def test_equal_versions_keep_the_later_row() -> None:
    # A replay after recovery re-sends a decision with its version; the later arrival is the upsert.
    first, again = _envelope("e-1", 3, None), _envelope("e-1", 3, "rfm-20261117")
    later = msgspec.structs.replace(again, audit=msgspec.structs.replace(again.audit, segment="ACTIVE"))
    table = latest_segments(decisions_table([first]), MARKETING_SEGMENTS.schema)
    assert table.column("segment").to_pylist() == ["VIP_HIGH_INVENTORY"]
    both = pa.concat_tables([decisions_table([first]), decisions_table([later])])
    assert latest_segments(both, MARKETING_SEGMENTS.schema).column("segment").to_pylist() == ["ACTIVE"]
    reverse = pa.concat_tables([decisions_table([later]), decisions_table([first])])
    assert latest_segments(reverse, MARKETING_SEGMENTS.schema).column("segment").to_pylist() == [
        "VIP_HIGH_INVENTORY"
    ]


def test_messages_round_trip_in_chunks_and_bad_ones_say_why() -> None:
    envs = [_envelope(f"e-{i}", i, None, customer_id=i) for i in range(1, ROWS_PER_MESSAGE + 2)]
    messages = list(encode_decisions(envs))
    assert len(messages) == 2
    assert [e for m in messages for e in decode_decisions(m)] == envs
    with pytest.raises(DecisionsDecodeError, match="not a msgpack array of decisions"):
        decode_decisions(b'{"version": 1}')
    with pytest.raises(DecisionsDecodeError, match=r"\$\[0\]\.audit"):
        decode_decisions(msgspec.msgpack.encode([{"version": 1, "audit": None}]))


def test_messages_of_the_older_enrich_flow_with_a_decision_inside_still_decode() -> None:
    # Before the envelope lost its redundant rt row, enrich wrote {version, decision, audit}.
    class OlderEnvelope(msgspec.Struct):
        version: int
        decision: Decision
        audit: DecisionAudit

    env = _envelope("e-1", 3, "snapshot:12")
    a = env.audit
    rt_row = Decision(
        a.customer_id, a.segment, a.recommendation, a.score, a.decided_at_ms, a.event_time_ms, a.logic_version
    )
    older = msgspec.msgpack.encode([OlderEnvelope(3, rt_row, a)])
    assert decode_decisions(older) == [env]
    assert len(next(encode_decisions([env]))) < 0.85 * len(older)
