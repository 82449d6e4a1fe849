"""The cdc and enrich flows, run by Bytewax over TestingSource/TestingSink, reproduce the golden
decisions of DESIGN §4 — the same answer ``persona replay`` gives — and route bad input to the DLQs.

Profiles and inventory are plain in-memory inputs here (fixed for the run, as in replay); the real
Paimon and Cassandra adapters are exercised by the integration tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import orjson
import pytest
from bytewax.testing import TestingSink, TestingSource, run_main
from flow_io import batches, decision_rows, records

from persona.contracts import (
    CustomerProfile,
    InventoryRow,
    Ok,
    parse_behavior_event,
    parse_customer_profile,
    parse_decision_message,
    parse_dlq_record,
    parse_inventory_row,
    parse_order_change,
)
from persona.contracts.timeutil import ms_to_datetime
from persona.flows import cdc, enrich
from persona.kafka.bytewax_io import OutRecord
from persona.settings import PipelineSettings


def golden_dir() -> Path:
    shared = os.environ.get("PERSONA_SHARED")
    base = Path(shared) if shared else Path(__file__).resolve().parents[3].parent / "shared"
    path = base / "golden" / "replay-v1"
    assert path.is_dir(), f"golden scenario missing at {path} (set PERSONA_SHARED)"
    return path


class DictProfiles:
    def __init__(self, profiles: dict[int, CustomerProfile]) -> None:
        self.profiles = profiles

    def get(self, customer_id: int) -> CustomerProfile | None:
        return self.profiles.get(customer_id)

    def maybe_refresh(self) -> bool:
        return False


class DictInventory:
    def __init__(self, sellable: dict[str, int]) -> None:
        self.stock = sellable
        self.batches: list[set[str]] = []
        self.changes: list[InventoryRow] = []

    def sellable(self, sku_ids: Iterable[str]) -> dict[str, int | None]:
        asked = set(sku_ids)
        self.batches.append(asked)
        return {s: self.stock.get(s) for s in asked}

    def prefetch(self, sku_ids: Iterable[str]) -> set[str]:
        return set()  # in memory: never waits

    def record_change(self, row: InventoryRow) -> None:
        self.changes.append(row)
        self.stock[row.sku_id] = row.sellable


def _lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def _run_cdc(settings: PipelineSettings, lines: list[bytes]) -> list[OutRecord]:
    out: list[tuple[str, list[OutRecord]]] = []
    messages = batches((settings.topics.orders_cdc, None, v) for v in lines)
    run_main(cdc.build_flow(settings, TestingSource(messages), TestingSink(out)))
    return records(out)


def _time_of(msg: OutRecord, settings: PipelineSettings) -> tuple[int, int]:
    # Processing order of DESIGN/replay: by time, order changes first on ties, file order otherwise.
    topic, _key, value = msg
    if topic == settings.topics.order_facts:
        fact = parse_order_change(value or b"")
        assert isinstance(fact, Ok)
        return (fact.value.ts_ms, 0)
    event = parse_behavior_event(value or b"")
    return (event.value.event_time_ms, 1) if isinstance(event, Ok) else (0, 1)


def test_cdc_then_enrich_reproduce_the_golden_decisions() -> None:
    golden = golden_dir()
    settings = PipelineSettings()
    facts = _run_cdc(settings, _lines(golden / "orders.jsonl"))
    order_dlq = [m for m in facts if m[0] == "orders_cdc.dlq"]
    order_facts = [m for m in facts if m[0] == settings.topics.order_facts]
    assert order_facts
    for _topic, key, value in order_facts:
        fact = parse_order_change(value or b"")
        assert isinstance(fact, Ok) and key == str(fact.value.customer_id).encode(), "keyed by customer"

    stream = list(order_facts)
    stream += [(settings.topics.behavior_events, None, v) for v in _lines(golden / "events.jsonl")]
    stream.sort(key=lambda m: _time_of(m, settings))  # stable: file order kept on ties

    profiles = {}
    for line in _lines(golden / "profiles.jsonl"):
        parsed = parse_customer_profile(line)
        assert isinstance(parsed, Ok)
        profiles[parsed.value.customer_id] = parsed.value
    stock = {}
    for line in _lines(golden / "inventory.jsonl"):
        row = parse_inventory_row(line)
        if isinstance(row, Ok):
            stock[row.value.sku_id] = row.value.sellable
    inventory = DictInventory(stock)

    items: list[tuple[str, list[OutRecord]]] = []
    polled = batches(stream)
    flow = enrich.build_flow(
        settings,
        TestingSource(polled),
        TestingSink(items),
        profiles=DictProfiles(profiles),
        inventory=inventory,
        clock=lambda: 1_800_000_000.0,
    )
    run_main(flow)
    out = records(items)

    decisions = decision_rows(out, settings.topics.segment_decisions)
    dlq = [m for m in out if m[0] == "behavior_events.dlq"]
    expected = [orjson.loads(line) for line in _lines(golden / "expected.jsonl")]

    got = {row["event_id"]: row for row in decisions}
    assert len(got) == len(decisions), "an event id was decided twice"
    assert set(got) == {e["event_id"] for e in expected}
    for e in expected:
        row = got[e["event_id"]]
        assert row["customer_id"] == e["customer_id"]
        assert row["segment"] == e["segment"], e["event_id"]
        assert row["recommendation"] == e["recommendation"], e["event_id"]
        if e["score"] is None:
            assert row["score"] is None
        else:
            assert row["score"] == pytest.approx(e["score"], abs=1e-6)

    # Versions increase by one per decision of a customer, in processing order.
    versions: dict[int, list[int]] = {}
    for row in decisions:
        versions.setdefault(row["customer_id"], []).append(row["version"])
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())

    # Every line that is not a valid event is in the DLQ with its reason and original bytes.
    invalid = [v for v in _lines(golden / "events.jsonl") if not isinstance(parse_behavior_event(v), Ok)]
    assert len(dlq) == len(invalid) > 0
    dead = [parse_dlq_record(m[2] or b"") for m in dlq]
    assert all(isinstance(r, Ok) and r.value.reason for r in dead)
    assert sorted(r.value.raw for r in dead if isinstance(r, Ok)) == sorted(invalid)
    invalid_orders = [v for v in _lines(golden / "orders.jsonl") if not isinstance(parse_order_change(v), Ok)]
    assert len(order_dlq) == len(invalid_orders)

    # Inventory was read in batches, not per event: at most one lookup per shard per polled batch.
    assert len(inventory.batches) <= settings.enrich_shards * len(polled) < len(decisions)

    # Each decision is on marketing_segments_rt as the enrich flow makes it: the same row and version,
    # keyed by customer.
    rt = {}
    for topic, key, value in out:
        if topic == settings.topics.marketing_segments_rt:
            message = parse_decision_message(value or b"")
            assert isinstance(message, Ok), value
            assert key == str(message.value.decision.customer_id).encode()
            rt[(message.value.decision.customer_id, message.value.version)] = message.value.decision
    assert len(rt) == len(decisions)
    for row in decisions:
        d = rt[(row["customer_id"], row["version"])]
        assert (d.segment, list(d.recommendation), d.score) == (
            row["segment"],
            row["recommendation"],
            row["score"],
        )
        assert ms_to_datetime(d.event_time_ms).replace(tzinfo=None) == row["event_time"]
        assert ms_to_datetime(d.updated_at_ms).replace(tzinfo=None) == row["decided_at"]


def test_a_redelivered_event_gets_no_second_decision() -> None:
    settings = PipelineSettings()
    event = orjson.dumps(
        {
            "event_id": "e-1",
            "user_id": 7,
            "event_type": "view",
            "sku_id": "A",
            "event_time": "2026-11-20T10:00:00Z",
        }
    )
    other = orjson.dumps(
        {
            "event_id": "e-2",
            "user_id": 7,
            "event_type": "view",
            "sku_id": "B",
            "event_time": "2026-11-20T10:00:01Z",
        }
    )
    # The repeat comes in a later poll, as a redelivery would.
    stream = batches([(settings.topics.behavior_events, b"7", v) for v in (event, other)]) + batches(
        [(settings.topics.behavior_events, b"7", event)]
    )
    out: list[tuple[str, list[OutRecord]]] = []
    run_main(
        enrich.build_flow(
            settings,
            TestingSource(stream),
            TestingSink(out),
            profiles=DictProfiles({}),
            inventory=DictInventory({"A": 3, "B": 0}),
            clock=lambda: 1_800_000_000.0,
        )
    )
    decided = decision_rows(records(out), settings.topics.segment_decisions)
    assert [(d["event_id"], d["version"], d["recommendation"]) for d in decided] == [
        ("e-1", 1, ["sku:A"]),
        ("e-2", 2, ["sku:A"]),
    ]
