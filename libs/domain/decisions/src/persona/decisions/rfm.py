"""The nightly RFM rules ``rfm-v1`` (DESIGN §4b) as pure functions: what the CRM job computes.

The Spark job aggregates each customer's orders (``RfmAggregate``) and classifies them with
:func:`classify`; :func:`profile_from_orders` is the same rules over one customer's raw orders, the
reference the tests hold the job to. Every threshold is a field of :class:`RfmV1Config`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

COUNTED_STATUSES: frozenset[str] = frozenset({"PAID", "SHIPPED"})
ZERO = Decimal("0.00")

SEGMENT_VIP = "VIP"
SEGMENT_LOYAL = "LOYAL"
SEGMENT_NEW = "NEW"
SEGMENT_REGULAR = "REGULAR"
SEGMENT_LAPSED = "LAPSED"
STAGE_PROSPECT = "prospect"
STAGE_ACTIVE = "active"
STAGE_AT_RISK = "at_risk"
STAGE_CHURNED = "churned"


@dataclass(frozen=True, slots=True)
class RfmV1Config:
    """Rules ``rfm-v1``. Comparisons are the spec's: VIP needs frequency >= and monetary >=, LOYAL
    frequency >=, NEW an account younger than ``new_max_age_days`` (strictly), REGULAR frequency >=;
    the lifecycle stages are recency <= ``active_max_recency_days`` and <= ``at_risk_max_recency_days``."""

    rules_id: str = "rfm-v1"
    window_days: int = 365  # frequency and monetary count orders of [D - 364, D]
    vip_min_frequency: int = 12
    vip_min_monetary: Decimal = Decimal("5000.00")
    loyal_min_frequency: int = 5
    new_max_age_days: int = 30
    regular_min_frequency: int = 1
    active_max_recency_days: int = 90
    at_risk_max_recency_days: int = 365

    def __post_init__(self) -> None:
        if not self.rules_id:
            raise ValueError("rules_id must be non-empty")
        if self.window_days < 1:
            raise ValueError("window_days must be >= 1")
        if min(self.vip_min_frequency, self.loyal_min_frequency, self.regular_min_frequency) < 0:
            raise ValueError("frequency thresholds must be >= 0")
        if self.active_max_recency_days > self.at_risk_max_recency_days:
            raise ValueError("active_max_recency_days must be <= at_risk_max_recency_days")

    def window_start(self, as_of: dt.date) -> dt.date:
        """The first day whose orders count for frequency and monetary."""
        return as_of - dt.timedelta(days=self.window_days - 1)


DEFAULT_RFM_CONFIG = RfmV1Config()


@dataclass(frozen=True, slots=True)
class RfmAggregate:
    """One customer's orders as of D, reduced: what the job's aggregation hands to :func:`classify`."""

    customer_id: int
    created_on: dt.date
    frequency: int  # counted orders in the window
    monetary: Decimal  # their summed total_amount
    last_counted_on: dt.date | None  # the latest counted order's date (<= D), at any age


@dataclass(frozen=True, slots=True)
class RfmProfile:
    """A ``customer_profile`` row (DESIGN §3)."""

    customer_id: int
    segment: str
    recency: int | None
    frequency: int
    monetary: Decimal
    lifecycle_stage: str
    rfm_as_of: dt.date


def counts(status: str, order_on: dt.date, as_of: dt.date) -> bool:
    """A counted order: PAID or SHIPPED, ordered on or before D."""
    return status in COUNTED_STATUSES and order_on <= as_of


def segment_of(aggregate: RfmAggregate, as_of: dt.date, config: RfmV1Config = DEFAULT_RFM_CONFIG) -> str:
    f, m = aggregate.frequency, aggregate.monetary
    if f >= config.vip_min_frequency and m >= config.vip_min_monetary:
        return SEGMENT_VIP
    if f >= config.loyal_min_frequency:
        return SEGMENT_LOYAL
    if (as_of - aggregate.created_on).days < config.new_max_age_days:
        return SEGMENT_NEW
    if f >= config.regular_min_frequency:
        return SEGMENT_REGULAR
    return SEGMENT_LAPSED


def lifecycle_stage(recency: int | None, config: RfmV1Config = DEFAULT_RFM_CONFIG) -> str:
    if recency is None:
        return STAGE_PROSPECT
    if recency <= config.active_max_recency_days:
        return STAGE_ACTIVE
    if recency <= config.at_risk_max_recency_days:
        return STAGE_AT_RISK
    return STAGE_CHURNED


def classify(
    aggregate: RfmAggregate, as_of: dt.date, config: RfmV1Config = DEFAULT_RFM_CONFIG
) -> RfmProfile | None:
    """The profile of one customer as of D, or None for a customer created after D (not yet one)."""
    if aggregate.created_on > as_of:
        return None
    if aggregate.last_counted_on is not None and aggregate.last_counted_on > as_of:
        raise ValueError(f"customer {aggregate.customer_id}: latest counted order after the as-of date")
    recency = None if aggregate.last_counted_on is None else (as_of - aggregate.last_counted_on).days
    return RfmProfile(
        customer_id=aggregate.customer_id,
        segment=segment_of(aggregate, as_of, config),
        recency=recency,
        frequency=aggregate.frequency,
        monetary=aggregate.monetary.quantize(ZERO),
        lifecycle_stage=lifecycle_stage(recency, config),
        rfm_as_of=as_of,
    )


def aggregate_orders(
    customer_id: int,
    created_on: dt.date,
    orders: Iterable[tuple[str, dt.date, Decimal]],
    as_of: dt.date,
    config: RfmV1Config = DEFAULT_RFM_CONFIG,
) -> RfmAggregate:
    """Reduce one customer's (status, order date, total_amount) rows as DESIGN §4b says."""
    window_start = config.window_start(as_of)
    frequency, monetary, last = 0, ZERO, None
    for status, order_on, amount in orders:
        if not counts(status, order_on, as_of):
            continue
        last = order_on if last is None or order_on > last else last
        if order_on >= window_start:
            frequency += 1
            monetary += amount
    return RfmAggregate(customer_id, created_on, frequency, monetary, last)


def profile_from_orders(
    customer_id: int,
    created_on: dt.date,
    orders: Iterable[tuple[str, dt.date, Decimal]],
    as_of: dt.date,
    config: RfmV1Config = DEFAULT_RFM_CONFIG,
) -> RfmProfile | None:
    """The reference: one customer's profile straight from its order rows."""
    return classify(aggregate_orders(customer_id, created_on, orders, as_of, config), as_of, config)


def tag_name(as_of: dt.date) -> str:
    """The Paimon tag of the profile snapshot of D: ``rfm-YYYYMMDD``."""
    return f"rfm-{as_of:%Y%m%d}"
