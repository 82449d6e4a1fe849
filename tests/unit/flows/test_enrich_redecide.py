"""DESIGN §5: when a SKU becomes unsellable, customers whose current recommendation holds it are
re-decided. The enrich flow keeps a per-SKU index of who is offered what, turns an unsellable
``inventory_changes`` record into ``redecide`` requests, and decides those customers again."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import orjson
from bytewax.connectors.kafka import KafkaSinkMessage, KafkaSourceMessage
from bytewax.testing import TestingSink, TestingSource, run_main
from test_flows_golden import DictInventory, DictProfiles

from persona.contracts import InventoryRow
from persona.flows import enrich
from persona.flows.enrich.flow import Offered, Redecide, step_sku_index
from persona.pipeline import PipelineSettings, decode_envelope

SETTINGS = PipelineSettings()


def _event(
    event_id: str, customer: int, sku: str, second: int
) -> KafkaSourceMessage[bytes | None, bytes | None]:
    value = orjson.dumps(
        {
            "event_id": event_id,
            "user_id": customer,
            "event_type": "view",
            "sku_id": sku,
            "event_time": f"2026-11-20T10:00:{second:02d}Z",
        }
    )
    return KafkaSourceMessage(key=str(customer).encode(), value=value, topic=SETTINGS.topics.behavior_events)


class StockAfterChange(DictInventory):
    """Stock as Cassandra would show it: an invalidated SKU (its change arrived) reads as sold out."""

    def invalidate(self, sku_id: str) -> None:
        super().invalidate(sku_id)
        self.stock[sku_id] = 0


def test_sku_index_requests_redecisions_only_for_customers_currently_offered_the_sku() -> None:
    step = step_sku_index(SETTINGS, clock=lambda: 1_800_000_000.0)
    state, out = step(None, (Offered(customer_id=1, version=1, recommended=True),))
    # In one batch: customer 2 is offered it, then its newer decision no longer offers it; a stale
    # "not offered" (older version) does not remove customer 1.
    state, out = step(
        state,
        (
            Offered(customer_id=2, version=4, recommended=True),
            Offered(customer_id=2, version=5, recommended=False),
            Offered(customer_id=1, version=0, recommended=False),
        ),
    )
    assert state == {1: 1} and out == []
    # Still sellable: nothing to do.
    state, out = step(state, InventoryRow("A", 5, 1))
    assert out == [] and state == {1: 1}
    state, out = step(state, InventoryRow("A", 5, 5, updated_at_ms=1_700_000_000_000))
    assert state is None
    assert [(m.topic, m.key) for m in out] == [(SETTINGS.topics.redecide, b"1")]
    assert orjson.loads(out[0].value or b"") == {
        "customer_id": 1,
        "sku_id": "A",
        "since_version": 1,
        "changed_at_ms": 1_700_000_000_000,
    }


def test_unsellable_change_emits_redecide_and_a_redecide_request_decides_again() -> None:
    inventory = StockAfterChange({"A": 4, "B": 9})
    out: list[KafkaSinkMessage[bytes | None, bytes | None]] = []
    change = orjson.dumps(
        {"sku_id": "A", "available_qty": 3, "reserved_qty": 3, "updated_at": 1_700_000_000_000}
    )
    request = Redecide(customer_id=7, sku_id="A", since_version=2, changed_at_ms=1_700_000_000_000)
    stream = [
        _event("e-1", 7, "B", 1),
        _event("e-2", 7, "A", 2),
        _event("e-3", 8, "B", 3),
        KafkaSourceMessage(key=b"A", value=change, topic=SETTINGS.topics.inventory_changes),
        KafkaSourceMessage(key=b"7", value=msgspec.json.encode(request), topic=SETTINGS.topics.redecide),
    ]
    flow = enrich.build_flow(
        SETTINGS,
        TestingSource(stream, batch_size=1),
        TestingSink(out),
        profiles=DictProfiles({}),
        inventory=inventory,
        clock=lambda: 1_800_000_000.0,
    )
    # One epoch per source batch (of one item): each item passes every step before the next one.
    run_main(flow, epoch_interval=timedelta(0))
    requests = [orjson.loads(m.value or b"") for m in out if m.topic == SETTINGS.topics.redecide]
    assert requests == [
        {"customer_id": 7, "sku_id": "A", "since_version": 2, "changed_at_ms": 1_700_000_000_000}
    ]
    assert inventory.invalidated == ["A"]
    decided = [decode_envelope(m.value or b"") for m in out if m.topic == SETTINGS.topics.segment_decisions]
    assert [(d.audit.event_id, d.version) for d in decided if d.decision.customer_id == 7][:2] == [
        ("e-1", 1),
        ("e-2", 2),
    ]
    assert decided[1].decision.recommendation == ("sku:A", "sku:B")
    again = [d for d in decided if d.audit.event_id.startswith("e-2~redecide")]
    assert len(again) == 1 and again[0].version == 3
    assert again[0].decision.recommendation == ("sku:B",), "the sold-out SKU is no longer offered"
