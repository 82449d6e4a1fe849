"""DESIGN §5: when a SKU becomes unsellable, customers whose current recommendation holds it are
re-decided. Each enrich shard keeps an index of which of its customers are offered which SKU; an
``inventory_changes`` record reaches every shard, replaces the SKU's cached stock, and a shard
re-decides its customers offered a now unsellable SKU at once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import pickle
from collections.abc import Iterable
from decimal import Decimal

import msgspec
import orjson
import pytest
from bytewax.testing import TestingSink, TestingSource, run_main
from flow_io import batches, decision_rows, records
from test_flows_golden import DictInventory, DictProfiles

from persona.contracts import BehaviorEvent, InventoryRow, OrderFact, parse_behavior_event
from persona.contracts.result import Ok
from persona.decisions import pack_times
from persona.flows import enrich
from persona.flows.enrich import CustomerShard, ShardSnapshot
from persona.flows.enrich.flow import EnrichContext
from persona.kafka.bytewax_io import OutRecord
from persona.settings import PipelineSettings

SETTINGS = PipelineSettings()


def _event_json(event_id: str, customer: int, sku: str, second: int) -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "user_id": customer,
            "event_type": "view",
            "sku_id": sku,
            "event_time": f"2026-11-20T10:00:{second:02d}Z",
        }
    )


def _event(event_id: str, customer: int, sku: str, second: int) -> BehaviorEvent:
    parsed = parse_behavior_event(_event_json(event_id, customer, sku, second))
    assert isinstance(parsed, Ok)
    return parsed.value


def _decided(out: list[OutRecord]) -> list[tuple[str, int, tuple[str, ...]]]:
    """(event id, version, recommendation) of each decision, in order."""
    return [(r["event_id"], r["version"], tuple(r["recommendation"])) for r in decision_rows(out)]


def _shard(inventory: DictInventory, resume: ShardSnapshot | None = None) -> CustomerShard:
    ctx = EnrichContext(SETTINGS, DictProfiles({}), inventory, clock=lambda: 1_800_000_000.0)
    return CustomerShard(ctx, resume)


def _index(shard: CustomerShard) -> dict[str, set[int]]:
    """The shard's SKU index as sets; its holders must stay out of the cyclic GC (dicts of ints)."""
    assert not any(gc.is_tracked(holders) for holders in shard.offered_to.values())
    return {entry: set(holders) for entry, holders in shard.offered_to.items()}


def _run(shard: CustomerShard, *items: object) -> list[OutRecord]:
    out, keep = shard.on_batch([list(items)])  # type: ignore[list-item]
    assert keep is CustomerShard.RETAIN
    return [r for batch in out for r in batch]


def test_unsellable_change_redecides_exactly_the_customers_currently_offered_the_sku() -> None:
    inventory = DictInventory({"A": 4, "B": 9})
    shard = _shard(inventory)
    first = _decided(
        _run(shard, _event("e-1", 7, "B", 1), _event("e-2", 7, "A", 2), _event("e-3", 8, "B", 3))
    )
    assert first == [
        ("e-1", 1, ("sku:B",)),
        ("e-2", 2, ("sku:A", "sku:B")),
        ("e-3", 1, ("sku:B",)),
    ]
    assert _index(shard) == {"sku:A": {7}, "sku:B": {7, 8}}

    # Still sellable: the stock is recorded, nobody is re-decided.
    assert _run(shard, InventoryRow("A", 5, 1, updated_at_ms=1_700_000_000_000)) == []
    # Sold out (available == reserved): customer 7 is re-decided from its last event, 8 is not.
    sold_out = InventoryRow("A", 3, 3, updated_at_ms=1_700_000_000_001)
    again = _decided(_run(shard, sold_out))
    assert inventory.changes[-1] == sold_out
    assert again == [("e-2~redecide-3", 3, ("sku:B",))]
    rows = decision_rows(
        _run(_shard(DictInventory({"A": 4})), _event("e-9", 9, "A", 5), InventoryRow("A", 0, 0))
    )
    assert rows[1]["event_time"] == rows[0]["event_time"], "a re-decision has the inputs of the last decision"
    assert _index(shard) == {"sku:B": {7, 8}}
    # A second sell-out of the same SKU finds nobody offered it.
    assert _run(shard, sold_out) == []


def test_a_customer_whose_newer_decision_dropped_the_sku_is_not_redecided() -> None:
    inventory = DictInventory({"A": 4, "B": 9})
    shard = _shard(inventory)
    _run(shard, _event("e-1", 7, "A", 1))
    assert _index(shard) == {"sku:A": {7}}
    # A goes out of stock as Cassandra sees it (no change record yet): the next decision drops it.
    inventory.stock["A"] = 0
    _run(shard, _event("e-2", 7, "B", 2))
    assert _index(shard) == {"sku:B": {7}} and shard.offered == {7: ("sku:B",)}
    assert _run(shard, InventoryRow("A", 0, 0)) == []


def test_decisions_before_a_change_in_the_same_batch_see_the_stock_before_it() -> None:
    inventory = DictInventory({"A": 4})
    shard = _shard(inventory)
    out = _decided(_run(shard, _event("e-1", 7, "A", 1), InventoryRow("A", 1, 1), _event("e-2", 7, "A", 2)))
    assert out == [("e-1", 1, ("sku:A",)), ("e-1~redecide-2", 2, ()), ("e-2", 3, ())]


def test_a_restored_shard_rebuilds_its_offer_index_and_keeps_versions() -> None:
    inventory = DictInventory({"A": 4, "B": 9})
    shard = _shard(inventory)
    order = OrderFact(
        order_id=5,
        customer_id=8,
        status="PAID",
        total_amount=Decimal("12.34"),
        currency="EUR",
        order_time_ms=1_795_000_000_000,
        updated_at_ms=1_795_000_000_000,
        op="c",
        ts_ms=1_795_000_000_001,
    )
    _run(shard, _event("e-1", 7, "A", 1), order, _event("e-2", 8, "B", 2))
    snapshot = pickle.loads(pickle.dumps(shard.snapshot()))  # as Bytewax recovery stores it
    restored = _shard(inventory, snapshot)
    assert restored.customers == shard.customers, "orders (Decimal amounts), recent SKUs, seen ids, versions"
    assert restored.customers[8].customer.orders[5].total_amount == Decimal("12.34")
    assert _index(restored) == _index(shard) == {"sku:A": {7}, "sku:B": {8}}
    again = _decided(_run(restored, InventoryRow("A", 0, 0)))
    assert [(event_id, version) for event_id, version, _rec in again] == [("e-1~redecide-2", 2)]
    # A duplicate of an event decided before the snapshot is still recognised.
    assert _run(restored, _event("e-2", 8, "B", 2)) == []


def test_a_snapshot_does_not_change_when_the_shard_goes_on() -> None:
    shard = _shard(DictInventory({"A": 4}))
    _run(shard, _event("e-1", 7, "A", 1))
    snapshot = shard.snapshot()
    _run(shard, _event("e-2", 7, "A", 2), _event("e-3", 9, "A", 3))
    state = snapshot.decode()
    assert set(state.customers) == {7} and state.customers[7].version == 1
    assert state.offered == {7: ("sku:A",)} and state.waiting == []


def test_restoring_state_of_another_shard_count_fails_with_a_clear_error() -> None:
    shard = _shard(DictInventory({}))
    snapshot = dataclasses.replace(shard.snapshot(), shards=SETTINGS.enrich_shards + 1)
    with pytest.raises(RuntimeError, match="PERSONA_ENRICH_SHARDS"):
        _shard(DictInventory({}), snapshot)


def test_through_the_flow_a_change_reaches_every_shard() -> None:
    # Customers 7 and 8 live in different shards; both are offered A, and both are re-decided.
    settings = dataclasses.replace(SETTINGS, enrich_shards=4)
    assert 7 % 4 != 8 % 4
    inventory = DictInventory({"A": 4, "B": 9})
    change = orjson.dumps(
        {"sku_id": "A", "available_qty": 3, "reserved_qty": 3, "updated_at": 1_700_000_000_000}
    )
    stream = batches(
        [
            (settings.topics.behavior_events, b"7", _event_json("e-1", 7, "A", 1)),
            (settings.topics.behavior_events, b"8", _event_json("e-2", 8, "A", 2)),
            (settings.topics.behavior_events, b"9", _event_json("e-3", 9, "B", 3)),
            (settings.topics.inventory_changes, b"A", change),
            (settings.topics.inventory_changes, b"A", b"{not json"),
        ]
    )
    items: list[tuple[str, list[OutRecord]]] = []
    flow = enrich.build_flow(
        settings,
        TestingSource(stream),
        TestingSink(items),
        profiles=DictProfiles({}),
        inventory=inventory,
        clock=lambda: 1_800_000_000.0,
    )
    run_main(flow)
    out = records(items)
    again = sorted(
        (r["customer_id"], r["event_id"], r["recommendation"])
        for r in decision_rows(out, settings.topics.segment_decisions)
        if "~redecide" in r["event_id"]
    )
    assert again == [(7, "e-1~redecide-2", []), (8, "e-2~redecide-2", [])]
    assert [k for t, k, _v in out if t == "inventory_changes.dlq"] == [b"A"]
    # Every shard recorded the change (the cache is per process; recording it again is harmless).
    assert len(inventory.changes) == settings.enrich_shards


class GatedInventory(DictInventory):
    """Stock whose SKUs in ``loading`` are still being read (as the cache's background reads)."""

    def __init__(self, sellable: dict[str, int]) -> None:
        super().__init__(sellable)
        self.loading: set[str] = set()
        self.prefetched: list[set[str]] = []

    def prefetch(self, sku_ids: Iterable[str]) -> set[str]:
        asked = set(sku_ids)
        self.prefetched.append(asked)
        return asked & self.loading


def _notify(shard: CustomerShard) -> list[OutRecord]:
    out, keep = shard.on_notify()
    assert keep is CustomerShard.RETAIN
    return [r for batch in out for r in batch]


def test_a_decision_whose_stock_is_being_read_waits_and_only_its_customer_waits_behind_it() -> None:
    inventory = GatedInventory({"A": 4, "B": 9})
    inventory.loading = {"A"}
    shard = _shard(inventory)
    idle = shard.notify_at()
    # Nothing waits: only the logic poll wakes the shard, not the stock wait's.
    assert idle is not None and idle - dt.datetime.now(dt.UTC) > CustomerShard.WAIT_POLL * 10
    # e-1 needs A (being read); e-0 of another customer is decided at once.
    decided = _decided(_run(shard, _event("e-0", 9, "B", 0), _event("e-1", 7, "A", 1)))
    assert decided == [("e-0", 1, ("sku:B",))]
    assert inventory.prefetched == [{"A", "B"}], "the reads start when the decision is set aside"
    assert shard.notify_at() is not None, "the shard asks to be woken to decide what waits"
    # B is at hand, but customer 7's e-2 must not overtake e-1: it waits; customer 8 does not.
    assert _decided(_run(shard, _event("e-2", 7, "B", 2), _event("e-3", 8, "B", 3))) == [
        ("e-3", 1, ("sku:B",))
    ]
    read_so_far = len(inventory.batches)
    assert _notify(shard) == [] and len(inventory.batches) == read_so_far, "nothing read while A loads"
    inventory.loading = set()
    assert _decided(_notify(shard)) == [("e-1", 1, ("sku:A",)), ("e-2", 2, ("sku:B", "sku:A"))]
    assert not shard.waiting
    assert _index(shard) == {"sku:A": {7}, "sku:B": {7, 8, 9}}


def test_a_decision_waiting_across_a_sell_out_sees_the_stock_after_it() -> None:
    inventory = GatedInventory({"A": 4})
    inventory.loading = {"A"}
    shard = _shard(inventory)
    assert _run(shard, _event("e-1", 7, "A", 1)) == []
    # The change lands while e-1 waits: e-1 is decided with it, so A is never offered.
    assert _run(shard, InventoryRow("A", 2, 2, updated_at_ms=1)) == []
    inventory.loading = set()
    assert _decided(_notify(shard)) == [("e-1", 1, ())]
    assert _index(shard) == {}


def test_waiting_decisions_are_in_the_snapshot_and_decided_after_a_restore() -> None:
    inventory = GatedInventory({"A": 4, "B": 9})
    shard = _shard(inventory)
    _run(shard, _event("e-1", 7, "B", 1))
    inventory.loading = {"A"}
    _run(shard, _event("e-2", 7, "A", 2), _event("e-3", 9, "A", 3))
    snapshot = pickle.loads(pickle.dumps(shard.snapshot()))
    assert [p.event.event_id for p in snapshot.decode().waiting] == ["e-2", "e-3"]
    restored = _shard(inventory, snapshot)
    assert restored.notify_at() is not None
    inventory.loading = set()
    assert _decided(_notify(restored)) == [("e-2", 2, ("sku:A", "sku:B")), ("e-3", 1, ("sku:A",))]
    assert _decided(_run(restored, _event("e-4", 7, "B", 4)))[0][:2] == ("e-4", 3)


def test_at_the_end_of_input_waiting_decisions_are_decided_without_waiting() -> None:
    inventory = GatedInventory({"A": 4})
    inventory.loading = {"A"}
    shard = _shard(inventory)
    _run(shard, _event("e-1", 7, "A", 1))
    out, _keep = shard.on_eof()
    assert _decided([r for batch in out for r in batch]) == [("e-1", 1, ("sku:A",))]
    assert not shard.waiting


def test_state_in_a_format_this_version_cannot_read_fails_with_a_clear_error() -> None:
    # Recent times as a list of ints, as the version before packed times wrote them.
    customer: list[object] = [["A"], [1], {}, b"12345678"]
    old = msgspec.msgpack.encode([{7: [customer, 1, None]}, {}])
    customer[1] = pack_times([1])
    current = msgspec.msgpack.encode([{7: [customer, 1, None]}, {}])
    assert _shard(DictInventory({}), ShardSnapshot(SETTINGS.enrich_shards, current)).customers[7].version == 1
    with pytest.raises(RuntimeError, match="another persona version"):
        _shard(DictInventory({}), ShardSnapshot(SETTINGS.enrich_shards, old))


class _BrokenStock(DictInventory):
    """An inventory adapter that hands back, once, a value nothing foresaw for one SKU."""

    glitched = False

    def sellable(self, sku_ids: Iterable[str]) -> dict[str, int | None]:
        stock = super().sellable(sku_ids)
        if "BROKEN" in stock and not self.glitched:
            self.glitched = True
            stock["BROKEN"] = "not a quantity"  # type: ignore[assignment]
        return stock


def test_a_record_whose_decision_raises_is_dead_lettered_and_the_shard_goes_on() -> None:
    shard = _shard(_BrokenStock({"A": 4, "BROKEN": 1}))
    out = _run(shard, _event("e-1", 7, "A", 1), _event("e-2", 8, "BROKEN", 2), _event("e-3", 9, "A", 3))
    assert [d[0] for d in _decided(out)] == ["e-1", "e-3"]
    dlq = [r for r in out if r[0] == SETTINGS.topics.dlq(SETTINGS.topics.behavior_events)]
    assert len(dlq) == 1 and dlq[0][1] == b"8"
    letter = orjson.loads(dlq[0][2] or b"")
    assert letter["reason"].startswith("behavior_event: unprocessable: TypeError")
    assert orjson.loads(letter["raw"])["event_id"] == "e-2"
    assert shard.unprocessable == 1
    # Once the glitch is gone, the customer's next event is decided, its failed one counted as seen.
    later = _decided(_run(shard, _event("e-4", 8, "A", 4), _event("e-2", 8, "BROKEN", 2)))
    assert [(d[0], d[1]) for d in later] == [("e-4", 2)]
