"""Per-customer state transitions: order versioning, recent SKUs, de-duplication bound, purity, pickling."""

from __future__ import annotations

import pickle
from datetime import date
from decimal import Decimal
from hashlib import blake2b

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from persona.contracts import BehaviorEvent, OrderFact, time_to_ms
from persona.decisions import (
    EMPTY_STATE,
    CustomerState,
    LogicV1Config,
    apply_order,
    has_seen,
    observe_event,
    pack_times,
    prune_orders,
    unpack_times,
    with_recent,
)
from persona.decisions.state import _holds, event_id_digest

CFG = LogicV1Config()
DAY = 86_400_000
T0 = 1_795_000_000_000
_settings = settings(database=None, deadline=None)


def fact(
    order_id: int = 1,
    status: str = "PAID",
    ts: int = T0,
    updated: int = T0,
    deleted: bool = False,
    amount: str = "10.00",
) -> OrderFact:
    return OrderFact(
        order_id, 7, status, Decimal(amount), "VND", T0, updated, "d" if deleted else "u", ts, deleted
    )


def ev(event_id: str, sku: str | None = "A", t: int = T0, event_type: str = "view") -> BehaviorEvent:
    return BehaviorEvent(event_id, 7, event_type, sku, t)


# --- orders ---------------------------------------------------------------------------------------------


def test_newer_change_replaces_older() -> None:
    state = apply_order(apply_order(EMPTY_STATE, fact(ts=1)), fact(status="REFUNDED", ts=2))
    assert state.orders[1].status == "REFUNDED"


def test_older_ts_ms_never_overrides_newer() -> None:
    newer = apply_order(EMPTY_STATE, fact(status="REFUNDED", ts=2, updated=2))
    assert apply_order(newer, fact(status="PAID", ts=1, updated=1)) is newer


def test_updated_at_breaks_ts_ms_ties() -> None:
    state = apply_order(EMPTY_STATE, fact(status="REFUNDED", ts=5, updated=20))
    assert apply_order(state, fact(status="PAID", ts=5, updated=10)) is state
    assert apply_order(state, fact(status="SHIPPED", ts=5, updated=30)).orders[1].status == "SHIPPED"


def test_ts_ms_is_authoritative_over_updated_at() -> None:
    # The database log order (ts_ms) wins over an application clock that went backwards.
    state = apply_order(EMPTY_STATE, fact(status="PAID", ts=1, updated=100))
    assert apply_order(state, fact(status="REFUNDED", ts=2, updated=50)).orders[1].status == "REFUNDED"


def test_delete_wins_a_full_tie_and_stale_changes_cannot_resurrect() -> None:
    last = fact(status="PAID", ts=5, updated=5)
    deleted = fact(status="PAID", ts=5, updated=5, deleted=True)  # before image carries the last updated_at
    state = apply_order(apply_order(EMPTY_STATE, last), deleted)
    assert state.orders[1].deleted
    assert apply_order(state, last) is state
    assert apply_order(state, fact(ts=4)) is state


def test_duplicates_are_harmless_and_cost_nothing() -> None:
    state = apply_order(EMPTY_STATE, fact())
    assert apply_order(state, fact()) is state


def test_orders_are_per_order_id() -> None:
    state = apply_order(apply_order(EMPTY_STATE, fact(1)), fact(2, amount="5.00"))
    assert sorted(state.orders) == [1, 2]


order_changes = st.lists(
    st.builds(
        fact,
        order_id=st.integers(1, 3),
        status=st.sampled_from(["PLACED", "PAID", "SHIPPED", "CANCELLED", "REFUNDED"]),
        ts=st.integers(0, 5),
        updated=st.integers(0, 5),
        deleted=st.booleans(),
    ),
    max_size=12,
)


@_settings
@given(order_changes, st.randoms(use_true_random=False))
def test_final_order_state_does_not_depend_on_arrival_order(changes: list[OrderFact], rnd: object) -> None:
    # Keep one change per (order, ts, updated) version, as a real log has: then any delivery order,
    # with any duplicates, converges to the same state.
    unique = list({(c.order_id, c.ts_ms, c.updated_at_ms): c for c in changes}.values())
    shuffled = list(unique) + list(unique[: len(unique) // 2])
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    a = EMPTY_STATE
    for c in unique:
        a = apply_order(a, c)
    b = EMPTY_STATE
    for c in shuffled:
        b = apply_order(b, c)
    assert a.orders == b.orders


def test_prune_orders_drops_what_the_profile_already_includes() -> None:
    old = msgspec.structs.replace(fact(1), order_time_ms=time_to_ms("2026-11-20T23:59:59.999Z"))
    new = msgspec.structs.replace(fact(2), order_time_ms=time_to_ms("2026-11-21T00:00:00Z"))
    state = apply_order(apply_order(EMPTY_STATE, old), new)
    pruned = prune_orders(state, date(2026, 11, 20))
    assert sorted(pruned.orders) == [2] and sorted(state.orders) == [1, 2]
    assert prune_orders(pruned, date(2026, 11, 20)) is pruned


# --- recent SKUs ----------------------------------------------------------------------------------------


def test_recent_skus_newest_first_distinct_bounded() -> None:
    state = EMPTY_STATE
    for i in range(25):
        state = observe_event(state, ev(f"e{i}", f"S{i}", T0 + i), CFG)
    state = observe_event(state, ev("again", "S20", T0 + 100), CFG)
    assert len(state.recent_skus) == 20
    assert state.recent_skus[:3] == ("S20", "S24", "S23") and state.recent_skus[-1] == "S5"
    assert unpack_times(state.recent_times)[0] == T0 + 100


def test_only_view_and_add_to_cart_are_remembered() -> None:
    state = EMPTY_STATE
    for i, t in enumerate(["view", "add_to_cart", "search", "page_view", "purchase"]):
        state = observe_event(state, ev(f"e{i}", f"S{i}", T0 + i, t), CFG)
    state = observe_event(state, ev("nosku", None, T0 + 9), CFG)
    assert state.recent_skus == ("S1", "S0")


def _with_recent(
    skus: tuple[str, ...], times: tuple[int, ...], sku: str, t: int, capacity: int
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    new_skus, packed = with_recent(skus, pack_times(times), sku, t, capacity)
    return new_skus, unpack_times(packed)


def test_late_event_lands_at_its_event_time() -> None:
    skus, times = _with_recent(("C", "B", "A"), (30, 20, 10), "D", 15, 20)
    assert (skus, times) == (("C", "B", "D", "A"), (30, 20, 15, 10))
    # A SKU already seen later is not moved back by a late sighting.
    assert _with_recent(("C", "B"), (30, 20), "C", 5, 20) == (("C", "B"), (30, 20))
    # Older than everything and no room: dropped.
    assert _with_recent(("B", "A"), (20, 10), "Z", 1, 2) == (("B", "A"), (20, 10))
    # Equal time: the later arrival counts as newer.
    assert _with_recent(("A",), (10,), "B", 10, 20) == (("B", "A"), (10, 10))
    # A late sighting of a known SKU moves it back to its (later) time; a full list drops the oldest.
    assert _with_recent(("C", "B", "A"), (30, 20, 10), "A", 25, 3) == (("C", "A", "B"), (30, 25, 20))
    assert _with_recent(("C", "B", "A"), (30, 20, 10), "D", 25, 3) == (("C", "D", "B"), (30, 25, 20))


def test_packed_times_order_as_the_times_do_including_before_1970() -> None:
    times = [-(2**62), -1, 0, 1, 1_800_000_000_000, 2**62]
    assert unpack_times(pack_times(times)) == tuple(times)
    keys = [pack_times([t]) for t in times]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


@_settings
@given(
    st.lists(st.tuples(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), st.integers(0, 50)), max_size=60),
    st.integers(1, 25),
)
def test_recent_invariants(sightings: list[tuple[str, int]], capacity: int) -> None:
    skus: tuple[str, ...] = ()
    times: tuple[int, ...] = ()
    for sku, t in sightings:
        skus, times = _with_recent(skus, times, sku, t, capacity)
        assert len(skus) == len(times) <= capacity
        assert len(set(skus)) == len(skus)
        assert list(times) == sorted(times, reverse=True)
    # When nothing was evicted, each SKU's time is its latest sighting.
    if len({s for s, _ in sightings}) <= capacity:
        latest: dict[str, int] = {}
        for sku, t in sightings:
            latest[sku] = max(t, latest.get(sku, t))
        assert dict(zip(skus, times, strict=True)) == latest


# --- de-duplication -------------------------------------------------------------------------------------


def test_seen_event_ids_and_idempotent_observe() -> None:
    state = observe_event(EMPTY_STATE, ev("e1"), CFG)
    assert has_seen(state, "e1") and not has_seen(state, "e2")
    assert observe_event(state, ev("e1", "OTHER"), CFG) is state


def test_seen_ids_are_bounded_oldest_evicted_first() -> None:
    cfg = LogicV1Config(seen_event_capacity=3)
    state = EMPTY_STATE
    for i in range(5):
        state = observe_event(state, ev(f"e{i}", None), cfg)
    assert state.seen == b"".join(event_id_digest(f"e{i}") for i in (2, 3, 4))
    assert not has_seen(state, "e0") and not has_seen(state, "e1")
    assert all(has_seen(state, f"e{i}") for i in (2, 3, 4))


def test_a_digest_match_across_two_stored_digests_is_not_a_seen_id() -> None:
    state = observe_event(observe_event(EMPTY_STATE, ev("e1"), CFG), ev("e2"), CFG)
    straddling = state.seen[4:12]  # the tail of e1's digest and the head of e2's
    assert state.seen.find(straddling) == 4
    assert not _holds(state.seen, straddling)
    assert _holds(state.seen, state.seen[8:16])


def test_event_id_digests_are_stable_across_processes() -> None:
    # Snapshots carry digests from one process to the next: they must not depend on hash seeds.
    assert event_id_digest("e-1").hex() == blake2b(b"e-1", digest_size=8).hexdigest()
    assert len({event_id_digest(f"e-{i}") for i in range(10_000)}) == 10_000


# --- purity and serializability -------------------------------------------------------------------------


def test_transitions_never_mutate_their_input() -> None:
    state = observe_event(apply_order(EMPTY_STATE, fact()), ev("e1"), CFG)
    snapshot = (state.recent_skus, state.recent_times, dict(state.orders), state.seen)
    observe_event(state, ev("e2", "B", T0 + 1), CFG)
    apply_order(state, fact(2))
    apply_order(state, fact(1, status="REFUNDED", ts=T0 + 1))
    prune_orders(state, date(2030, 1, 1))
    assert (state.recent_skus, state.recent_times, dict(state.orders), state.seen) == snapshot
    assert CustomerState() == EMPTY_STATE and not EMPTY_STATE.orders and not EMPTY_STATE.seen


def test_state_pickles_for_bytewax_recovery() -> None:
    state = observe_event(apply_order(EMPTY_STATE, fact(deleted=True)), ev("e1"), CFG)
    restored = pickle.loads(pickle.dumps(state))
    assert restored == state and restored.orders[1].total_amount == Decimal("10.00")
