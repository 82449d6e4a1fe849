"""The sink builds its Paimon rows as Arrow columns straight from the decoded decisions; these are the
rows DESIGN §3 prescribes for ``marketing_segments`` and the ``segment_decisions`` audit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import orjson
import pyarrow as pa

from persona.contracts import CandidateSku, Decision, DecisionAudit
from persona.flows.sink import audit_table, segment_table
from persona.flows.sink.flow import conform
from persona.paimon.schema import MARKETING_SEGMENTS, SEGMENT_DECISIONS
from persona.pipeline import DecisionEnvelope

EVENT_MS = 1_795_000_123_456  # 2026-11-18T11:08:43.456Z
DECIDED_MS = EVENT_MS + 1_500


def _envelope(event_id: str, version: int, snapshot: str | None, found: bool = True) -> DecisionEnvelope:
    decision = Decision(
        customer_id=42,
        segment="VIP_HIGH_INVENTORY",
        recommendation=("sku:A", "sku:C"),
        score=10.5 if found else None,
        updated_at_ms=DECIDED_MS,
        event_time_ms=EVENT_MS,
        logic_version="v1",
    )
    audit = DecisionAudit(
        event_id=event_id,
        event_time_ms=EVENT_MS,
        event_type="view",
        event_sku_id="A",
        customer_id=42,
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
    return DecisionEnvelope(version, decision, audit)


def test_audit_rows_carry_every_input_of_the_decision() -> None:
    table = audit_table(
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


def test_segment_rows_are_the_decision_and_its_version() -> None:
    table = segment_table([_envelope("e-1", 3, None)], MARKETING_SEGMENTS.schema)
    assert table.to_pylist() == [
        {
            "customer_id": 42,
            "segment": "VIP_HIGH_INVENTORY",
            "recommendation": ["sku:A", "sku:C"],
            "score": 10.5,
            "updated_at": dt.datetime(2026, 11, 18, 11, 8, 44, 956000),
            "event_time": dt.datetime(2026, 11, 18, 11, 8, 43, 456000),
            "logic_version": "v1",
            "version": 3,
        }
    ]


def test_a_column_added_by_schema_evolution_reads_as_null() -> None:
    evolved = MARKETING_SEGMENTS.schema.append(pa.field("channel_preference", pa.string()))
    table = segment_table([_envelope("e-1", 3, None)], evolved)
    assert table.schema == evolved and table.column("channel_preference").to_pylist() == [None]
    assert conform({}, evolved, 2).column("customer_id").null_count == 2
