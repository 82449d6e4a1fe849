"""The per-customer step around ``decide`` (``persona.decisions.step``) that the enrich flow and
replay share: events (de-duplication, observation, the decision's inputs), order changes (with and
without pruning), and the index of which customers are offered which recommendation entry."""

from __future__ import annotations

import gc
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from persona.contracts import BehaviorEvent, CustomerProfile, OrderFact, time_to_ms
from persona.decisions import (
    EMPTY_STATE,
    LogicV1Config,
    Offered,
    OfferedTo,
    apply_order,
    candidate_skus,
    decide,
    effective_rfm,
    index_offers,
    observe_event,
    prune_orders,
    record_offer,
    step_event,
    step_order,
    take_offered,
)

CFG = LogicV1Config()
AS_OF = date(2026, 11, 20)
T0 = time_to_ms("2026-11-25T09:00:00Z")
MINUTE = 60_000
NOW = time_to_ms("2026-11-25T12:00:00Z")


def ev(event_id: str, sku: str | None = "A", t: int = T0, event_type: str = "view") -> BehaviorEvent:
    return BehaviorEvent(event_id, 7, event_type, sku, t)


def order(order_id: int, day: str, *, ts: int, updated: int, status: str = "PAID") -> OrderFact:
    t = time_to_ms(f"{day}T08:00:00Z")
    return OrderFact(order_id, 7, status, Decimal("10.00"), "VND", t, updated, "u", ts)


def profile(as_of: date = AS_OF) -> CustomerProfile:
    return CustomerProfile(7, "REGULAR", 10, 4, Decimal("100.00"), "active", as_of, snapshot="rfm")


# --- events -----------------------------------------------------------------------------------------------


def test_an_event_is_observed_and_carries_its_version_and_recent_skus() -> None:
    before = observe_event(EMPTY_STATE, ev("e-1", "B"), CFG)
    e = ev("e-2", "A", T0 + MINUTE)
    pending = step_event(before, e, 3, CFG)
    assert pending is not None
    assert pending.event is e and pending.version == 3
    assert pending.state == observe_event(before, e, CFG)
    assert pending.recent == pending.state.recent_skus == ("A", "B")


def test_a_seen_event_id_is_a_duplicate_with_no_decision() -> None:
    pending = step_event(EMPTY_STATE, ev("e-1"), 1, CFG)
    assert pending is not None
    assert step_event(pending.state, ev("e-1", "Z", T0 + MINUTE), 2, CFG) is None


def test_an_event_without_a_recommending_sku_keeps_the_recent_skus() -> None:
    state = observe_event(EMPTY_STATE, ev("e-1", "B"), CFG)
    pending = step_event(state, ev("e-2", "C", event_type="purchase"), 2, CFG)
    assert pending is not None and pending.recent == ("B",)
    assert candidate_skus(pending.state, pending.event, CFG, pending.recent) == ("C", "B")


_sightings = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C", "D", "E", "F", "G"]),
        st.integers(-5, 5),  # minutes from T0: out-of-order and equal times too
        st.sampled_from(["view", "add_to_cart", "purchase", "search"]),
    ),
    min_size=1,
    max_size=30,
)


@settings(database=None, deadline=None)
@given(_sightings, st.booleans(), st.booleans())
def test_deciding_from_the_step_gives_what_deciding_before_observing_gives(
    sightings: list[tuple[str, int, str]], with_profile: bool, with_order: bool
) -> None:
    # Replay decided from the state before observing each event, without ``recent``; the flow from
    # the observed state with its recent SKUs. The step's inputs give the same decision as either.
    config = LogicV1Config(recent_sku_capacity=5, max_recommendations=3)
    stock = {"A": 1, "B": 0, "C": 20, "D": None, "E": 3, "F": 1}
    p = profile() if with_profile else None
    state = EMPTY_STATE
    if with_order:
        state = step_order(state, order(1, "2026-11-22", ts=1, updated=1), None)
    for n, (sku, minutes, event_type) in enumerate(sightings):
        e = ev(f"e-{n}", sku, T0 + minutes * MINUTE, event_type)
        pending = step_event(state, e, n + 1, config)
        assert pending is not None
        before = decide(e, p, state, stock, config, NOW)
        assert decide(e, p, pending.state, stock, config, NOW, pending.recent) == before
        assert candidate_skus(pending.state, e, config, pending.recent) == candidate_skus(state, e, config)
        state = pending.state


# --- order changes ----------------------------------------------------------------------------------------


def test_without_rfm_as_of_an_order_change_only_applies() -> None:
    old = order(1, "2026-11-19", ts=1, updated=1)
    state = step_order(EMPTY_STATE, old, None)
    assert state == apply_order(EMPTY_STATE, old)
    assert step_order(state, old, None) is state, "a duplicate changes nothing"


def test_with_rfm_as_of_the_orders_the_profile_includes_are_dropped() -> None:
    state = step_order(EMPTY_STATE, order(1, "2026-11-19", ts=1, updated=1), None)
    newer = order(2, "2026-11-21", ts=2, updated=2)
    stepped = step_order(state, newer, AS_OF)
    assert stepped == prune_orders(apply_order(state, newer), AS_OF)
    assert sorted(stepped.orders) == [2]


def test_pruned_orders_never_counted_with_that_profile() -> None:
    changes = [
        order(1, "2026-11-18", ts=1, updated=1),
        order(2, "2026-11-20", ts=2, updated=2),  # on rfm_as_of: in the profile already
        order(3, "2026-11-21", ts=3, updated=3),
        order(1, "2026-11-18", ts=4, updated=4, status="REFUNDED"),
    ]
    kept = pruned = EMPTY_STATE
    for fact in changes:
        kept = step_order(kept, fact, None)
        pruned = step_order(pruned, fact, AS_OF)
    assert sorted(pruned.orders) == [3]
    at = time_to_ms("2026-11-25T10:00:00Z")
    assert effective_rfm(pruned, profile(), at) == effective_rfm(kept, profile(), at)


def test_pruning_is_not_neutral_when_a_superseded_change_dates_the_order_after_rfm_as_of() -> None:
    # Why replay keeps every order: two changes of one order at the same ts_ms, the newer (by
    # updated_at) first, and the order's date moved across rfm_as_of between them.
    newer = order(1, "2026-11-19", ts=5, updated=20)
    superseded = order(1, "2026-11-22", ts=5, updated=10)
    kept = step_order(step_order(EMPTY_STATE, newer, None), superseded, None)
    pruned = step_order(step_order(EMPTY_STATE, newer, AS_OF), superseded, AS_OF)
    at = time_to_ms("2026-11-25T10:00:00Z")
    assert effective_rfm(kept, profile(), at).adjusting_order_ids == ()
    assert effective_rfm(pruned, profile(), at).adjusting_order_ids == (1,)


# --- the offer index --------------------------------------------------------------------------------------


def _index(offered_to: OfferedTo) -> dict[str, set[int]]:
    assert not any(gc.is_tracked(holders) for holders in offered_to.values())
    return {entry: set(holders) for entry, holders in offered_to.items()}


def test_record_offer_keeps_both_maps_in_step() -> None:
    offered: Offered = {}
    offered_to: OfferedTo = {}
    assert record_offer(offered, offered_to, 7, ("sku:A", "sku:B"))
    assert record_offer(offered, offered_to, 8, ("sku:B",))
    assert offered == {7: ("sku:A", "sku:B"), 8: ("sku:B",)}
    assert _index(offered_to) == {"sku:A": {7}, "sku:B": {7, 8}}
    assert not record_offer(offered, offered_to, 7, ("sku:A", "sku:B")), "the same offer: no change"
    assert record_offer(offered, offered_to, 7, ("sku:C", "sku:B"))
    assert _index(offered_to) == {"sku:B": {7, 8}, "sku:C": {7}}, "an entry nobody holds is gone"
    assert record_offer(offered, offered_to, 8, ())
    assert offered == {7: ("sku:C", "sku:B")} and _index(offered_to) == {"sku:B": {7}, "sku:C": {7}}
    assert not record_offer(offered, offered_to, 9, ()), "no offer before or after"


def test_the_index_rebuilt_from_the_offers_is_the_one_kept_in_step() -> None:
    offered: Offered = {}
    offered_to: OfferedTo = {}
    for customer, recommendation in [(1, ("sku:A",)), (2, ("sku:A", "sku:B")), (1, ("sku:B",)), (3, ())]:
        record_offer(offered, offered_to, customer, recommendation)
    assert _index(index_offers(offered)) == _index(offered_to) == {"sku:A": {2}, "sku:B": {1, 2}}


def test_take_offered_gives_the_customers_in_id_order_and_drops_the_entry() -> None:
    offered: Offered = {}
    offered_to: OfferedTo = {}
    for customer in (9, 3, 5):
        record_offer(offered, offered_to, customer, ("sku:A", "sku:B"))
    assert take_offered(offered_to, "A", CFG) == [3, 5, 9]
    assert _index(offered_to) == {"sku:B": {3, 5, 9}}
    assert take_offered(offered_to, "A", CFG) == [], "nobody is offered it any more"
    # A re-decision then records the customer's new offer; the taken entry stays out of the index.
    assert record_offer(offered, offered_to, 3, ("sku:B",))
    assert _index(offered_to) == {"sku:B": {3, 5, 9}}
