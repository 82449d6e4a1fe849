"""GDPR erasure in the enrich flow (docs/erasure.md): an ``erasures`` request forgets the customer,
writes the rt tombstone and relays the request to the sink after the customer's decisions; records of
the erased past are dropped; a later record is a comeback with no history. And the sink's parser keeps
the relayed request in order between the decisions around it."""

from __future__ import annotations

import datetime as dt
import pickle
from decimal import Decimal

import orjson
from flow_io import batches, decision_rows
from test_enrich_redecide import _event, _run, _shard
from test_flows_golden import DictInventory, DictProfiles

from persona.contracts import (
    ERASURE_MARKER,
    CustomerProfile,
    ErasureRequest,
    encode_decisions,
    erasure_to_json,
    time_to_ms,
)
from persona.flows.enrich import CustomerShard
from persona.flows.enrich.flow import EnrichContext
from persona.flows.enrich.routing import shard_of
from persona.flows.sink.flow import DecisionsParser
from persona.kafka.bytewax_io import OutRecord
from persona.settings import PipelineSettings

# _event(id, customer, sku, second) is at 2026-11-20T10:00:<second>Z.
ERASED_AT = time_to_ms("2026-11-20T10:00:10Z")
REQUEST = ErasureRequest("er-1", 7, "test", "dpo", ERASED_AT)


def _decisions(out: list[OutRecord]) -> list[dict[str, object]]:
    return decision_rows([r for r in out if r[0] != "segment_decisions" or r[2][:1] != ERASURE_MARKER])


def test_an_erasure_forgets_the_customer_and_a_comeback_starts_fresh() -> None:
    shard = _shard(DictInventory({"A": 4, "B": 9, "C": 3}))
    _run(shard, _event("e-1", 7, "A", 1), _event("e-2", 7, "B", 2), _event("k-1", 8, "A", 3))
    out = _run(shard, _event("e-3", 7, "A", 4), REQUEST)
    # The decision before the erasure goes out first, then the tombstone and the relayed request.
    assert [(t, k) for t, k, _ in out][-2:] == [
        ("marketing_segments_rt", b"7"),
        ("segment_decisions", shard_of(7, PipelineSettings().enrich_shards).encode()),
    ]
    assert out[-2][2] is None
    assert out[-1][2] == erasure_to_json(REQUEST)
    assert [r["event_id"] for r in _decisions(out)] == ["e-3"]
    state = shard.customers[7]
    assert (state.version, state.last_event, state.erased_at_ms) == (3, None, ERASED_AT)
    assert state.customer.recent_skus == () and state.customer.seen == b""
    assert 7 not in shard.offered and all(7 not in holders for holders in shard.offered_to.values())
    assert shard.customers[8].version == 1, "another customer is untouched"

    # The erased past: an event at or before the erasure (a replay) is dropped.
    assert _run(shard, _event("e-4", 7, "C", 5), _event("e-5", 7, "C", 10)) == []
    assert shard.erased_past == 2
    # A later one is a comeback: the version goes on, nothing of the past is used.
    back = _decisions(_run(shard, _event("e-6", 7, "C", 11)))
    assert [(r["event_id"], r["version"], r["recommendation"]) for r in back] == [("e-6", 4, ["sku:C"])]
    assert shard.customers[7].erased_at_ms == ERASED_AT, "a replay after the comeback is still dropped"
    assert _run(shard, _event("e-1", 7, "A", 1)) == []

    # The erasure survives a snapshot and restore.
    restored = _shard(DictInventory({}), pickle.loads(pickle.dumps(shard.snapshot())))
    assert restored.customers[7] == shard.customers[7]


def test_an_erasure_of_a_customer_never_seen_still_tombstones_and_blocks_its_past() -> None:
    shard = _shard(DictInventory({"A": 4}))
    out = _run(shard, REQUEST)
    assert [(t, v is None) for t, _, v in out] == [
        ("marketing_segments_rt", True),
        ("segment_decisions", False),
    ]
    assert _run(shard, _event("e-1", 7, "A", 1)) == []


def test_the_sink_parser_keeps_a_relayed_erasure_between_the_decisions_around_it() -> None:
    shard = _shard(DictInventory({"A": 4}))
    before = [r for r in _run(shard, _event("e-1", 7, "A", 1)) if r[0] == "segment_decisions"]
    after = [r for r in _run(shard, _event("k-1", 8, "A", 2)) if r[0] == "segment_decisions"]
    messages = [*before, ("segment_decisions", b"0", erasure_to_json(REQUEST)), *after]
    parser = DecisionsParser(PipelineSettings())
    (batch,) = batches(messages)
    items = parser(batch)
    kinds = [type(value).__name__ for _key, value in items]
    assert kinds == ["Table", "ErasureRequest", "Table"]
    assert items[0][1].column("event_id").to_pylist() == ["e-1"]
    assert items[1][1] == REQUEST
    # A broken relayed request is a dead letter, the rest is written.
    bad = parser(batches([("segment_decisions", b"0", b'{"erasure_id": 1}'), *after])[0])
    assert [k for k, _ in bad] == ["paimon", "dlq"]
    assert orjson.loads(bad[1][1][0][2])["reason"].startswith("erasure:")
    assert encode_decisions  # the decisions codec is the one the enrich flow uses


def test_a_profile_of_the_erased_past_is_not_used_and_a_later_one_is() -> None:
    def vip(as_of: dt.date) -> CustomerProfile:
        return CustomerProfile(7, "VIP", 1, 20, Decimal("9000.00"), "active", as_of)

    # The store still holds the row the sink deleted (it refreshes on its own clock).
    profiles = DictProfiles({7: vip(dt.date(2026, 11, 19))})
    ctx = EnrichContext(PipelineSettings(), profiles, DictInventory({"A": 40}), clock=lambda: 1_800_000_000.0)
    shard = CustomerShard(ctx, None)
    assert [r["segment"] for r in _decisions(_run(shard, _event("e-1", 7, "A", 1)))] == ["VIP_HIGH_INVENTORY"]
    _run(shard, REQUEST)
    back = _decisions(_run(shard, _event("e-2", 7, "A", 11)))
    assert [(r["segment"], r["profile_segment"]) for r in back] == [("DORMANT", None)]
    # A nightly run as of a later day: the comeback's profile (the CRM holds the customer).
    profiles.profiles[7] = vip(dt.date(2026, 11, 21))
    later = _decisions(_run(shard, _event("e-3", 7, "A", 12)))
    assert [r["segment"] for r in later] == ["VIP_HIGH_INVENTORY"]
