"""DESIGN §4b, rules rfm-v1: every clause and its boundaries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from persona.decisions.rfm import (
    DEFAULT_RFM_CONFIG,
    RfmAggregate,
    RfmProfile,
    RfmV1Config,
    aggregate_orders,
    classify,
    lifecycle_stage,
    profile_from_orders,
    tag_name,
)

D = dt.date(2026, 11, 28)
LONG_AGO = D - dt.timedelta(days=1000)


def days_before(n: int) -> dt.date:
    return D - dt.timedelta(days=n)


def paid(n_days_before: int, amount: str = "10.00", status: str = "PAID") -> tuple[str, dt.date, Decimal]:
    return (status, days_before(n_days_before), Decimal(amount))


def profile(orders: list[tuple[str, dt.date, Decimal]], created: dt.date = LONG_AGO) -> RfmProfile:
    result = profile_from_orders(1, created, orders, D)
    assert result is not None
    return result


def test_a_counted_order_is_paid_or_shipped_on_or_before_d() -> None:
    p = profile([paid(1), paid(2, status="SHIPPED"), paid(3, status="PLACED"), paid(4, status="CANCELLED"),
                 paid(5, status="REFUNDED"), paid(-1)])  # fmt: skip
    assert (p.frequency, p.monetary, p.recency) == (2, Decimal("20.00"), 1)


@pytest.mark.parametrize(
    ("age", "in_window"), [(0, True), (363, True), (364, True), (365, False), (366, False)]
)
def test_the_window_is_d_minus_364_to_d(age: int, in_window: bool) -> None:
    p = profile([paid(age, "7.50")])
    assert (p.frequency, p.monetary) == ((1, Decimal("7.50")) if in_window else (0, Decimal("0.00")))
    # Recency looks at the latest counted order at any age, in or out of the window.
    assert p.recency == age


def test_monetary_is_zero_and_recency_null_without_counted_orders() -> None:
    p = profile([paid(3, status="REFUNDED")])
    assert (p.frequency, p.monetary, p.recency, p.lifecycle_stage) == (0, Decimal("0.00"), None, "prospect")
    assert p.segment == "LAPSED"


@pytest.mark.parametrize(
    ("count", "each", "segment"),
    [
        (12, "416.67", "VIP"),  # 5000.04
        (12, "416.66", "LOYAL"),  # 4999.92: one cent short of the monetary bar is enough to miss
        (11, "1000.00", "LOYAL"),  # frequency 11
        (5, "1.00", "LOYAL"),
        (4, "1.00", "REGULAR"),
        (1, "1.00", "REGULAR"),
        (0, "1.00", "LAPSED"),
    ],
)
def test_segments_first_match_wins(count: int, each: str, segment: str) -> None:
    assert profile([paid(i, each) for i in range(count)]).segment == segment


def test_vip_at_exactly_12_orders_and_5000() -> None:
    p = profile([paid(i, "5000.00" if i == 0 else "0.00") for i in range(12)])
    assert (p.frequency, p.monetary, p.segment) == (12, Decimal("5000.00"), "VIP")


@pytest.mark.parametrize(("age", "segment"), [(0, "NEW"), (29, "NEW"), (30, "REGULAR"), (31, "REGULAR")])
def test_new_when_the_account_is_younger_than_30_days(age: int, segment: str) -> None:
    assert profile([paid(0)], created=days_before(age)).segment == segment


def test_new_without_orders_and_lapsed_after_30_days() -> None:
    assert profile([], created=days_before(29)).segment == "NEW"
    assert profile([], created=days_before(30)).segment == "LAPSED"


def test_loyal_and_vip_win_over_new() -> None:
    assert profile([paid(i) for i in range(5)], created=days_before(3)).segment == "LOYAL"


def test_a_customer_created_after_d_has_no_profile() -> None:
    assert profile_from_orders(1, D + dt.timedelta(days=1), [], D) is None
    assert profile_from_orders(1, D, [], D) is not None  # created on D counts


@pytest.mark.parametrize(
    ("recency", "stage"),
    [(None, "prospect"), (0, "active"), (90, "active"), (91, "at_risk"), (365, "at_risk"), (366, "churned")],
)
def test_lifecycle_stage(recency: int | None, stage: str) -> None:
    assert lifecycle_stage(recency) == stage


def test_a_refund_or_a_deletion_stops_an_order_counting() -> None:
    # The CRM holds an order's current row only: refunded means REFUNDED now; deleted means absent.
    before = profile([paid(1, "100.00"), paid(2, "50.00")])
    refunded = profile([paid(1, "100.00", status="REFUNDED"), paid(2, "50.00")])
    deleted = profile([paid(2, "50.00")])
    assert (before.frequency, before.monetary, before.recency) == (2, Decimal("150.00"), 1)
    assert (refunded.frequency, refunded.monetary, refunded.recency) == (1, Decimal("50.00"), 2)
    assert refunded == deleted


def test_thresholds_are_configuration() -> None:
    strict = RfmV1Config(rules_id="rfm-test", vip_min_frequency=2, vip_min_monetary=Decimal("15.00"))
    result = profile_from_orders(1, LONG_AGO, [paid(0), paid(1)], D, strict)
    assert result is not None and result.segment == "VIP"
    with pytest.raises(ValueError, match="window_days"):
        RfmV1Config(window_days=0)
    assert DEFAULT_RFM_CONFIG.window_start(D) == days_before(364)


def test_classify_refuses_an_aggregate_with_an_order_after_d() -> None:
    with pytest.raises(ValueError, match="after the as-of date"):
        classify(RfmAggregate(1, LONG_AGO, 1, Decimal("1"), D + dt.timedelta(days=1)), D)


def test_the_tag_names_the_as_of_day() -> None:
    assert tag_name(dt.date(2026, 1, 5)) == "rfm-20260105"


_orders = st.lists(
    st.tuples(
        st.sampled_from(["PLACED", "PAID", "SHIPPED", "CANCELLED", "REFUNDED"]),
        st.integers(min_value=-5, max_value=800).map(days_before),
        st.integers(min_value=0, max_value=100_000).map(lambda cents: Decimal(cents) / 100),
    ),
    max_size=40,
)


@given(_orders)
def test_the_aggregate_does_not_depend_on_order_row_order(orders: list[tuple[str, dt.date, Decimal]]) -> None:
    forward = aggregate_orders(1, LONG_AGO, orders, D)
    backward = aggregate_orders(1, LONG_AGO, list(reversed(orders)), D)
    assert forward == backward
    assert forward.frequency <= len(orders)
    assert (forward.last_counted_on is None) == (
        not any(s in ("PAID", "SHIPPED") and d <= D for s, d, _ in orders)
    )
