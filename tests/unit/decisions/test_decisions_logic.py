"""DESIGN §4 clause by clause: effective RFM, segment, score, recommendation, audit."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from persona.contracts import (
    BehaviorEvent,
    CandidateSku,
    CustomerProfile,
    Decision,
    DecisionAudit,
    OrderFact,
    time_to_ms,
)
from persona.decisions import (
    EMPTY_STATE,
    RULE_ACTIVE,
    RULE_DORMANT_NO_RECENCY,
    RULE_DORMANT_RECENCY,
    RULE_VIP_HIGH_INVENTORY,
    SEGMENT_VIP_HIGH_INVENTORY,
    CustomerState,
    LogicV1Config,
    apply_order,
    candidate_skus,
    count_orders,
    decide,
    effective_rfm,
    observe_event,
    prune_orders,
)

CFG = LogicV1Config()
AS_OF = date(2026, 11, 20)
NOW = time_to_ms("2026-11-25T12:00:00Z")
_seq = iter(range(10**9))


def ms(iso: str) -> int:
    return time_to_ms(iso)


def event(
    sku: str | None = "A",
    t: str = "2026-11-25T10:00:00Z",
    event_type: str = "view",
    user: int = 7,
    event_id: str | None = None,
) -> BehaviorEvent:
    return BehaviorEvent(event_id or f"e{next(_seq)}", user, event_type, sku, ms(t))


def profile(
    segment: str | None = "REGULAR",
    recency: int | None = 10,
    frequency: int | None = 4,
    monetary: str | None = "100.00",
    as_of: date = AS_OF,
) -> CustomerProfile:
    return CustomerProfile(
        7,
        segment,
        recency,
        frequency,
        None if monetary is None else Decimal(monetary),
        "active",
        as_of,
        snapshot="rfm-20261120",
    )


def order(
    order_id: int,
    order_time: str,
    amount: str = "10.00",
    status: str = "PAID",
    ts: int | None = None,
    deleted: bool = False,
) -> OrderFact:
    t = ms(order_time)
    return OrderFact(
        order_id,
        7,
        status,
        Decimal(amount),
        "VND",
        t,
        t,
        "d" if deleted else "c",
        t if ts is None else ts,
        deleted,
    )


def with_orders(*orders: OrderFact) -> CustomerState:
    state = EMPTY_STATE
    for o in orders:
        state = apply_order(state, o)
    return state


# --- 1. effective RFM -----------------------------------------------------------------------------------


def test_no_profile_no_orders_is_all_null_and_dormant() -> None:
    rfm = effective_rfm(EMPTY_STATE, None, ms("2026-11-25T10:00:00Z"))
    assert (rfm.recency, rfm.frequency, rfm.monetary) == (None, None, None)
    decision, audit = decide(event(), None, EMPTY_STATE, {"A": 50}, CFG, NOW)
    assert (decision.segment, decision.score, audit.rule) == ("DORMANT", None, RULE_DORMANT_NO_RECENCY)
    assert audit.profile_found is False


def test_no_profile_every_counted_order_counts() -> None:
    state = with_orders(order(1, "2020-01-01T00:00:00Z", "5.00"), order(2, "2026-11-23T08:00:00Z", "7.50"))
    rfm = effective_rfm(state, None, ms("2026-11-25T10:00:00Z"))
    assert (rfm.recency, rfm.frequency, rfm.monetary) == (2, 2, Decimal("12.50"))
    assert rfm.adjusting_order_ids == (1, 2)


def test_profile_without_newer_orders_ages_recency() -> None:
    rfm = effective_rfm(EMPTY_STATE, profile(recency=10), ms("2026-11-25T10:00:00Z"))
    # recency = profile.recency + (date(t) - rfm_as_of) = 10 + 5
    assert (rfm.recency, rfm.frequency, rfm.monetary) == (15, 4, Decimal("100.00"))


def test_profile_adjusted_by_newer_orders() -> None:
    state = with_orders(order(1, "2026-11-21T01:00:00Z", "20.00"), order(2, "2026-11-24T23:59:59Z", "0.50"))
    rfm = effective_rfm(
        state, profile(recency=10, frequency=4, monetary="100.00"), ms("2026-11-25T10:00:00Z")
    )
    assert (rfm.recency, rfm.frequency, rfm.monetary) == (1, 6, Decimal("120.50"))


def test_newness_compares_utc_dates() -> None:
    # On rfm_as_of itself (UTC) the order is already in the nightly profile.
    last_instant_of_as_of = order(1, "2026-11-20T23:59:59.999Z")
    # 2026-11-21 06:00 in +07:00 is still 2026-11-20 in UTC: not newer.
    local_next_day = OrderFact(
        2,
        7,
        "PAID",
        Decimal(1),
        "VND",
        ms("2026-11-21T06:00:00+07:00"),
        ms("2026-11-21T06:00:00+07:00"),
        "c",
        1,
        False,
    )
    first_instant_after = order(3, "2026-11-21T00:00:00Z", "3.00")
    state = with_orders(last_instant_of_as_of, local_next_day, first_instant_after)
    rfm = effective_rfm(state, profile(), ms("2026-11-25T10:00:00Z"))
    assert rfm.adjusting_order_ids == (3,)
    assert (rfm.frequency, rfm.monetary, rfm.recency) == (5, Decimal("103.00"), 4)


_order_changes = st.lists(
    st.tuples(
        st.integers(1, 6),  # order id: changes of one order replace each other
        st.integers(0, 9),  # order day, 2026-11-15 + n
        st.sampled_from(["PAID", "SHIPPED", "PENDING", "CANCELLED"]),
        st.integers(0, 5000),  # amount in cents
        st.booleans(),  # deleted
    ),
    max_size=12,
)


@settings(database=None, deadline=None)
@given(_order_changes, st.integers(14, 26), st.booleans(), st.booleans())
def test_the_counted_orders_kept_in_the_state_give_what_walking_the_orders_gives(
    changes: list[tuple[int, int, str, int, bool]], as_of: int, with_profile: bool, pruned: bool
) -> None:
    state = EMPTY_STATE
    for ts, (order_id, day, status, cents, deleted) in enumerate(changes, start=1):
        fact = order(order_id, f"2026-11-{15 + day:02d}T08:00:00Z", f"{cents / 100:.2f}", status, ts, deleted)
        state = apply_order(state, fact)
    p = profile(as_of=date(2026, 11, as_of)) if with_profile else None
    if pruned and p is not None:
        state = prune_orders(state, p.rfm_as_of)
    walked = msgspec.structs.replace(state, counted=None)  # what a state from an older store does
    for event_day in (20, 27):
        at = ms(f"2026-11-{event_day}T10:00:00Z")
        assert effective_rfm(state, p, at) == effective_rfm(walked, p, at)


def test_a_state_from_an_older_recovery_store_decodes_without_counted_orders() -> None:
    fact = order(1, "2026-11-22T12:00:00Z", "5.00")
    old_shape = msgspec.msgpack.encode([["A"], b"", {1: fact}, b""])  # the four fields before `counted`
    state = msgspec.msgpack.decode(old_shape, type=CustomerState)
    assert state.counted is None and state.orders == {1: fact}
    assert effective_rfm(state, None, ms("2026-11-25T10:00:00Z")).adjusting_order_ids == (1,)
    assert apply_order(state, order(2, "2026-11-23T12:00:00Z")).counted == count_orders(
        {1: fact, 2: order(2, "2026-11-23T12:00:00Z")}
    )


def test_recency_uses_utc_date_of_event_time() -> None:
    state = with_orders(order(1, "2026-11-22T12:00:00Z"))
    # 2026-11-23T06:00+07:00 is 2026-11-22T23:00Z: same UTC day as the order.
    rfm = effective_rfm(state, profile(), ms("2026-11-23T06:00:00+07:00"))
    assert rfm.recency == 0
    # Whole UTC days, not 24h periods: 23:59 -> 00:01 is one day.
    state = with_orders(order(1, "2026-11-22T23:59:00Z"))
    assert effective_rfm(state, profile(), ms("2026-11-23T00:01:00Z")).recency == 1


def test_recency_is_never_negative() -> None:
    # An order dated after the event...
    state = with_orders(order(1, "2026-11-27T00:00:00Z"))
    assert effective_rfm(state, profile(), ms("2026-11-25T10:00:00Z")).recency == 0
    assert effective_rfm(state, None, ms("2026-11-25T10:00:00Z")).recency == 0
    # ...or an event dated before rfm_as_of with a small profile recency.
    assert effective_rfm(EMPTY_STATE, profile(recency=1), ms("2026-11-10T00:00:00Z")).recency == 0


@pytest.mark.parametrize("status", ["PLACED", "CANCELLED", "REFUNDED"])
def test_only_paid_and_shipped_count(status: str) -> None:
    state = with_orders(order(1, "2026-11-22T00:00:00Z", status=status))
    rfm = effective_rfm(state, None, ms("2026-11-25T10:00:00Z"))
    assert (rfm.recency, rfm.frequency, rfm.monetary) == (None, None, None)


def test_latest_status_decides_whether_an_order_counts() -> None:
    paid = order(1, "2026-11-22T00:00:00Z", status="PAID", ts=1)
    refunded = msgspec.structs.replace(paid, status="REFUNDED", op="u", ts_ms=2)
    shipped_again = msgspec.structs.replace(paid, status="SHIPPED", op="u", ts_ms=3)
    t = ms("2026-11-25T10:00:00Z")
    assert effective_rfm(with_orders(paid), None, t).frequency == 1
    assert effective_rfm(with_orders(paid, refunded), None, t).frequency is None
    assert effective_rfm(with_orders(paid, refunded, shipped_again), None, t).frequency == 1
    deleted = msgspec.structs.replace(paid, op="d", deleted=True, ts_ms=4)
    assert effective_rfm(with_orders(paid, deleted), None, t).frequency is None


def test_duplicates_and_replays_never_double_count() -> None:
    o = order(1, "2026-11-22T00:00:00Z", "10.00")
    snapshot_read = msgspec.structs.replace(o, op="r", ts_ms=o.ts_ms + 1000)
    rfm = effective_rfm(with_orders(o, o, snapshot_read, o), profile(), ms("2026-11-25T10:00:00Z"))
    assert (rfm.frequency, rfm.monetary) == (5, Decimal("110.00"))


def test_profile_with_null_rfm_fields() -> None:
    p = profile(recency=None, frequency=None, monetary=None)
    rfm = effective_rfm(EMPTY_STATE, p, ms("2026-11-25T10:00:00Z"))
    assert (rfm.recency, rfm.frequency, rfm.monetary) == (None, None, None)
    rfm = effective_rfm(with_orders(order(1, "2026-11-24T00:00:00Z", "9.99")), p, ms("2026-11-25T10:00:00Z"))
    assert (rfm.recency, rfm.frequency, rfm.monetary) == (1, 1, Decimal("9.99"))


# --- 2. segment -----------------------------------------------------------------------------------------


def seg(
    p: CustomerProfile | None,
    inventory: Mapping[str, int | None],
    state: CustomerState = EMPTY_STATE,
    e: BehaviorEvent | None = None,
    cfg: LogicV1Config = CFG,
) -> tuple[str, str]:
    decision, audit = decide(e or event("A"), p, state, inventory, cfg, NOW)
    assert decision.segment == audit.segment
    return decision.segment, audit.rule


def test_vip_with_high_sellable_event_sku() -> None:
    assert seg(profile("VIP", recency=100), {"A": 11}) == ("VIP_HIGH_INVENTORY", RULE_VIP_HIGH_INVENTORY)


def test_vip_threshold_is_strictly_greater_than_ten() -> None:
    assert seg(profile("VIP", recency=100), {"A": 10}) == ("DORMANT", RULE_DORMANT_RECENCY)
    assert seg(profile("VIP", recency=0), {"A": 10}) == ("ACTIVE", RULE_ACTIVE)


@pytest.mark.parametrize("inventory", [{}, {"A": None}, {"B": 1000}])
def test_unknown_event_sku_never_qualifies_vip(inventory: dict[str, int | None]) -> None:
    assert seg(profile("VIP", recency=100), inventory)[0] == "DORMANT"


def test_vip_needs_an_event_sku_and_the_vip_profile_label() -> None:
    assert seg(profile("VIP", recency=100), {"A": 50}, e=event(None, event_type="page_view"))[0] == "DORMANT"
    assert seg(profile("LOYAL", recency=100), {"A": 50})[0] == "DORMANT"
    assert seg(profile("vip", recency=100), {"A": 50})[0] == "DORMANT"
    assert seg(None, {"A": 50})[0] == "DORMANT"


def test_vip_rule_uses_the_event_sku_of_any_event_type() -> None:
    e = event("A", event_type="search")
    assert seg(profile("VIP", recency=100), {"A": 50}, e=e)[0] == "VIP_HIGH_INVENTORY"


def test_vip_wins_over_active() -> None:
    assert seg(profile("VIP", recency=0), {"A": 11})[0] == "VIP_HIGH_INVENTORY"


def test_active_threshold_is_strictly_less_than_seven() -> None:
    # Event on 2026-11-25, rfm_as_of 2026-11-20: recency = profile.recency + 5.
    assert seg(profile(recency=1), {}) == ("ACTIVE", RULE_ACTIVE)  # 6
    assert seg(profile(recency=2), {}) == ("DORMANT", RULE_DORMANT_RECENCY)  # 7


def test_null_recency_is_dormant() -> None:
    assert seg(profile(recency=None), {}) == ("DORMANT", RULE_DORMANT_NO_RECENCY)


def test_thresholds_come_from_the_config() -> None:
    cfg = LogicV1Config(vip_min_sellable=100, active_max_recency_days=30, logic_version="v2-test")
    assert seg(profile("VIP", recency=10), {"A": 50}, cfg=cfg)[0] == "ACTIVE"
    decision, _ = decide(event(), None, EMPTY_STATE, {}, cfg, NOW)
    assert decision.logic_version == "v2-test"


# --- 3. score -------------------------------------------------------------------------------------------


def test_score_is_float_arithmetic_on_the_decimal_monetary() -> None:
    state = with_orders(order(1, "2026-11-24T00:00:00Z", "906.09"))
    decision, _ = decide(event(), None, state, {}, CFG, NOW)
    # float: 1 * 0.5 + 906.09 * 0.1 == 91.10900000000001; Decimal arithmetic would give exactly 91.109.
    assert decision.score == 1 * 0.5 + float(Decimal("906.09")) * 0.1 == 91.10900000000001
    assert decision.score != float(1 * Decimal("0.5") + Decimal("906.09") * Decimal("0.1"))


def test_score_uses_effective_frequency_and_monetary() -> None:
    state = with_orders(order(1, "2026-11-24T00:00:00Z", "50.00"))
    decision, _ = decide(event(), profile(frequency=4, monetary="100.00"), state, {}, CFG, NOW)
    assert decision.score == 5 * 0.5 + float(Decimal("150.00")) * 0.1


@pytest.mark.parametrize(("frequency", "monetary"), [(None, "1.00"), (3, None), (None, None)])
def test_score_is_null_when_frequency_or_monetary_is_null(
    frequency: int | None, monetary: str | None
) -> None:
    decision, _ = decide(event(), profile(frequency=frequency, monetary=monetary), EMPTY_STATE, {}, CFG, NOW)
    assert decision.score is None


def test_score_weights_come_from_the_config() -> None:
    cfg = LogicV1Config(weight_frequency=2.0, weight_monetary=0.0)
    decision, _ = decide(event(), profile(frequency=4), EMPTY_STATE, {}, cfg, NOW)
    assert decision.score == 8.0


# --- 4. recommendation ----------------------------------------------------------------------------------


def history(*skus_and_types: tuple[str | None, str]) -> CustomerState:
    """Observe events one minute apart, oldest first."""
    state = EMPTY_STATE
    for i, (sku, event_type) in enumerate(skus_and_types):
        state = observe_event(state, event(sku, f"2026-11-25T09:{i:02d}:00Z", event_type), CFG)
    return state


def recommend(state: CustomerState, e: BehaviorEvent, inventory: Mapping[str, int | None]) -> tuple[str, ...]:
    return decide(e, None, state, inventory, CFG, NOW)[0].recommendation


def test_newest_first_distinct_sellable_up_to_five() -> None:
    state = history(*[(s, "view") for s in "ABCDEFGH"], ("C", "add_to_cart"))
    inv = dict.fromkeys("ABCDEFGHZ", 1)
    assert recommend(state, event("Z"), inv) == ("sku:Z", "sku:C", "sku:H", "sku:G", "sku:F")


def test_only_view_and_add_to_cart_feed_recommendations() -> None:
    state = history(("A", "view"), ("B", "search"), ("C", "page_view"), ("D", "add_to_cart"))
    inv = dict.fromkeys("ABCDE", 5)
    assert recommend(state, event("E", event_type="search"), inv) == ("sku:D", "sku:A")
    assert recommend(state, event(None, event_type="page_view"), inv) == ("sku:D", "sku:A")


def test_unsellable_and_unknown_skus_are_never_recommended() -> None:
    state = history(("A", "view"), ("B", "view"), ("C", "view"), ("D", "view"))
    inv: dict[str, int | None] = {"A": 3, "B": 0, "C": None}  # D missing: unknown
    assert recommend(state, event("E"), inv) == ("sku:A",)


def test_empty_when_none_qualify() -> None:
    assert recommend(EMPTY_STATE, event("A"), {"A": 0}) == ()
    assert recommend(EMPTY_STATE, event(None, event_type="search"), {}) == ()


def test_fewer_than_five_sellable_among_remembered_skus() -> None:
    state = history(*[(f"S{i}", "view") for i in range(30)])
    inv = {f"S{i}": (1 if i < 5 else 0) for i in range(30)}
    # Only the 20 most recent SKUs are remembered (S10..S29), none of which is sellable.
    assert recommend(state, event(None, event_type="search"), inv) == ()


def test_decision_is_the_same_before_or_after_observing_the_event() -> None:
    state = history(("A", "view"), ("B", "view"))
    e = event("A", "2026-11-25T09:30:00Z")
    inv = {"A": 1, "B": 1}
    before = decide(e, profile(), state, inv, CFG, NOW)
    after = decide(e, profile(), observe_event(state, e, CFG), inv, CFG, NOW)
    assert before == after
    assert before[0].recommendation == ("sku:A", "sku:B")


def test_every_decision_recommending_a_sku_shares_one_entry_string() -> None:
    # Built fresh each time (not literals), so only the entry table can make them the same object.
    sku_a, sku_b = "".join(["X", "1"]), "".join(["X", "1"])
    first, _ = decide(event(sku_a), None, history(), {sku_a: 1}, CFG, NOW)
    second, _ = decide(event(sku_b), None, history(), {sku_b: 1}, CFG, NOW)
    assert first.recommendation == ("sku:X1",)
    assert first.recommendation[0] is second.recommendation[0]
    other, _ = decide(
        event(sku_a), None, history(), {sku_a: 1}, LogicV1Config(recommendation_prefix="p/"), NOW
    )
    assert other.recommendation == ("p/X1",), "one table per prefix"


def test_recommendation_limit_from_config() -> None:
    state = history(("A", "view"), ("B", "view"), ("C", "view"))
    decision, audit = decide(
        event("D"), None, state, dict.fromkeys("ABCD", 1), LogicV1Config(max_recommendations=2), NOW
    )
    assert decision.recommendation == ("sku:D", "sku:C")
    assert [c.sku_id for c in audit.candidates] == ["D", "C"]  # examined until the list was full


def test_candidate_skus_cover_everything_decide_reads() -> None:
    state = history(("A", "view"), ("B", "add_to_cart"), ("X", "search"))
    assert candidate_skus(state, event("C"), CFG) == ("C", "B", "A")
    assert candidate_skus(state, event("X", event_type="search"), CFG) == ("X", "B", "A")
    assert candidate_skus(state, event(None, event_type="page_view"), CFG) == ("B", "A")

    class Recording(Mapping[str, int | None]):
        """Every SKU is in stock; remembers which SKUs decide asked for."""

        def __init__(self) -> None:
            self.asked: set[str] = set()

        def __getitem__(self, key: str) -> int | None:
            self.asked.add(key)
            return 5

        def __iter__(self) -> Iterator[str]:
            return iter(())

        def __len__(self) -> int:
            return 0

    for e in (event("C"), event("X", event_type="search"), event(None, event_type="page_view")):
        inv = Recording()
        decide(e, profile("VIP"), state, inv, CFG, NOW)
        assert inv.asked <= set(candidate_skus(state, e, CFG))


# --- audit ----------------------------------------------------------------------------------------------


def test_audit_records_every_input() -> None:
    state = with_orders(order(11, "2026-11-24T00:00:00Z", "50.00"), order(12, "2026-11-19T00:00:00Z"))
    state = observe_event(state, event("B", "2026-11-25T09:00:00Z"), CFG)
    e = event("A", "2026-11-25T10:00:00Z", event_id="ev-1")
    decision, audit = decide(e, profile("VIP"), state, {"A": 12, "B": None}, CFG, NOW)
    # Keyword-built expectations pin every field: decide constructs both positionally (for speed).
    assert decision.score is not None
    assert decision == Decision(
        customer_id=7,
        segment=SEGMENT_VIP_HIGH_INVENTORY,
        recommendation=("sku:A",),
        score=decision.score,
        updated_at_ms=NOW,
        event_time_ms=e.event_time_ms,
        logic_version="v1",
    )
    assert audit == DecisionAudit(
        event_id="ev-1",
        event_time_ms=e.event_time_ms,
        event_type="view",
        event_sku_id="A",
        customer_id=7,
        profile_found=True,
        profile_segment="VIP",
        profile_recency=10,
        profile_frequency=4,
        profile_monetary=Decimal("100.00"),
        profile_rfm_as_of=AS_OF,
        profile_snapshot="rfm-20261120",
        adjusting_order_ids=(11,),
        recency=1,
        frequency=5,
        monetary=Decimal("150.00"),
        event_sku_sellable=12,
        candidates=(CandidateSku("A", 12), CandidateSku("B", None)),
        rule=RULE_VIP_HIGH_INVENTORY,
        segment=SEGMENT_VIP_HIGH_INVENTORY,
        recommendation=("sku:A",),
        score=decision.score,
        logic_version="v1",
        decided_at_ms=NOW,
    )


def test_audit_without_a_profile_says_so() -> None:
    e = event("A", "2026-11-25T10:00:00Z", event_id="ev-2")
    _decision, audit = decide(e, None, EMPTY_STATE, {"A": 3}, CFG, NOW)
    assert (audit.profile_found, audit.profile_segment, audit.profile_recency) == (False, None, None)
    assert (audit.profile_frequency, audit.profile_monetary) == (None, None)
    assert (audit.profile_rfm_as_of, audit.profile_snapshot) == (None, None)


def test_decide_does_not_mutate_its_inputs() -> None:
    state = history(("A", "view"))
    state = apply_order(state, order(1, "2026-11-24T00:00:00Z"))
    frozen = (state.recent_skus, dict(state.orders), state.seen)
    inv = {"A": 1}
    decide(event("B"), profile(), state, inv, CFG, NOW)
    assert (state.recent_skus, state.orders, state.seen) == frozen and inv == {"A": 1}
