"""The segment decision of DESIGN §4 as one pure function, plus the helpers the flows need around it.

The step that feeds it per event and per order change is ``persona.decisions.step``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from decimal import Decimal
from typing import Final

import msgspec

from persona.contracts import (
    BehaviorEvent,
    CandidateSku,
    CustomerProfile,
    Decision,
    DecisionAudit,
    date_to_day,
)
from persona.contracts.timeutil import DAY_MS
from persona.decisions.config import RULES_V2, LogicV1Config
from persona.decisions.state import (
    CustomerState,
    channels_including,
    count_orders,
    has_seen,
    recent_including,
)

SEGMENT_VIP_HIGH_INVENTORY: Final = "VIP_HIGH_INVENTORY"
SEGMENT_ACTIVE: Final = "ACTIVE"
SEGMENT_DORMANT: Final = "DORMANT"
SEGMENT_VIP_WINBACK: Final = "VIP_WINBACK"  # rules v2; the segment's name is the config's

# The rule that fired, as recorded in the audit (one per branch of DESIGN §4.2).
RULE_VIP_HIGH_INVENTORY: Final = "vip_and_event_sku_sellable_above_min"
RULE_ACTIVE: Final = "recency_below_active_max"
RULE_DORMANT_RECENCY: Final = "dormant_recency_at_or_above_active_max"
RULE_DORMANT_NO_RECENCY: Final = "dormant_recency_null"
RULE_VIP_WINBACK: Final = "vip_not_recent_winback"  # rules v2

_ZERO: Final = Decimal(0)

InventoryView = Mapping[str, int | None]
"""sku_id -> sellable quantity as read at decision time; None or a missing key means unknown."""


class EffectiveRfm(msgspec.Struct, frozen=True, gc=False):
    """RFM as of the event (DESIGN §4.1); all None when there is neither a profile nor a counted order."""

    recency: int | None
    frequency: int | None
    monetary: Decimal | None
    adjusting_order_ids: tuple[int, ...]


def effective_rfm(state: CustomerState, profile: CustomerProfile | None, event_time_ms: int) -> EffectiveRfm:
    """The profile's RFM adjusted by counted orders newer than it (all counted orders if no profile).

    "Newer" compares UTC calendar dates: the order's UTC date must be after ``rfm_as_of`` — an order placed
    on ``rfm_as_of`` itself is already in the nightly profile. Recency is in whole UTC days, never negative.
    A profile whose recency/frequency/monetary is null (no counted order in its window) takes the orders'
    values for the null fields; with no newer order they stay null.
    """
    as_of_day = None if profile is None else date_to_day(profile.rfm_as_of)
    counted = state.counted
    if counted is None or (as_of_day is not None and counted.count and counted.earliest_day <= as_of_day):
        # Not derived (a recovery store without it), or some counted orders are in the profile already.
        counted = count_orders(state.orders, as_of_day)
    count, total, latest_day = counted.count, counted.total, counted.latest_day
    event_day = event_time_ms // DAY_MS

    recency: int | None
    frequency: int | None
    monetary: Decimal | None
    if count:
        recency = event_day - latest_day
    elif profile is not None and profile.recency is not None and as_of_day is not None:
        recency = profile.recency + (event_day - as_of_day)
    else:
        recency = None
    if profile is None:
        frequency = count or None
        monetary = total if count else None
    else:
        frequency = None if profile.frequency is None and not count else (profile.frequency or 0) + count
        monetary = None if profile.monetary is None and not count else (profile.monetary or _ZERO) + total
    if recency is not None and recency < 0:
        # An order dated after the event (clock skew, or an order seen before an older, late event), or an
        # event dated before rfm_as_of: the customer is at least as recent as "today".
        recency = 0
    return EffectiveRfm(recency, frequency, monetary, counted.ids)


def preferred_channel(channels: tuple[str, ...]) -> str | None:
    """The most frequent of ``channels`` (newest first); among equally frequent ones, the one used
    most recently. None when there is none."""
    if not channels:
        return None
    counts: dict[str, int] = {}
    for channel in channels:
        counts[channel] = counts.get(channel, 0) + 1
    best = channels[0]
    for channel in channels:  # newest first: a later tie never replaces an earlier one
        if counts[channel] > counts[best]:
            best = channel
    return best


def candidate_skus(
    state: CustomerState,
    event: BehaviorEvent,
    config: LogicV1Config,
    recent: tuple[str, ...] | None = None,
) -> tuple[str, ...]:
    """Every SKU whose sellable quantity ``decide`` may read for this event: the event's own SKU (VIP
    rule, any event type) and the customer's recent view/add_to_cart SKUs including this event's.

    The flow batch-reads exactly these from the inventory projection and passes them to ``decide``.
    ``recent``: ``recent_including(state, event, config)[0]`` when the caller already has it.
    """
    skus = recent_including(state, event, config)[0] if recent is None else recent
    if event.sku_id is not None and event.sku_id not in skus:
        return (event.sku_id, *skus)
    return skus


class _Entries(dict[str, str]):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix


_ENTRIES: dict[str, _Entries] = {}


def _recommendation_entries(prefix: str) -> _Entries:
    """SKU id -> its recommendation entry (``prefix + sku_id``), one interned string per SKU.

    A flow keeps every customer's current recommendation; with one shared string per entry they cost
    a pointer each, and a recommendation equal to the previous one compares by identity. Bounded by
    the SKUs ever recommended (~60 bytes each).
    """
    entries = _ENTRIES.get(prefix)
    if entries is None:
        entries = _ENTRIES[prefix] = _Entries(prefix)
    return entries


def decide(
    event: BehaviorEvent,
    profile: CustomerProfile | None,
    state: CustomerState,
    inventory: InventoryView,
    config: LogicV1Config,
    now_ms: int,
    recent: tuple[str, ...] | None = None,
) -> tuple[Decision, DecisionAudit]:
    """Decide segment, score and recommendation for ``event`` (DESIGN §4); pure and deterministic.

    ``state`` is the customer's state before or after ``observe_event(state, event)`` — both give the same
    decision, since this event's SKU is merged in either way. ``inventory`` maps SKU to the sellable
    quantity read now (see ``candidate_skus``); a SKU missing from it, or mapped to None, is unknown and is
    never promoted: it neither qualifies VIP_HIGH_INVENTORY nor is recommended. ``now_ms`` becomes
    ``updated_at``/``decided_at``. ``recent``: ``recent_including(state, event, config)[0]`` when the caller
    already has it (``step_event`` does, from ``observe_event``); it is computed otherwise.
    """
    rfm = effective_rfm(state, profile, event.event_time_ms)

    event_sku = event.sku_id
    event_sku_sellable = None if event_sku is None else inventory.get(event_sku)

    # 2. Segment, first match wins. None (unknown stock / unknown recency) never satisfies a comparison,
    # like NULL in the note's SQL CASE.
    if (
        profile is not None
        and profile.segment == config.vip_segment
        and event_sku_sellable is not None
        and event_sku_sellable > config.vip_min_sellable
    ):
        segment, rule = SEGMENT_VIP_HIGH_INVENTORY, RULE_VIP_HIGH_INVENTORY
    elif (
        config.rules == RULES_V2
        and profile is not None
        and profile.segment == config.vip_segment
        and (rfm.recency is None or rfm.recency >= config.active_max_recency_days)
    ):
        # Rules v2: a VIP who is not recent is a win-back target, not one more DORMANT customer.
        segment, rule = config.vip_winback_segment, RULE_VIP_WINBACK
    elif rfm.recency is None:
        segment, rule = SEGMENT_DORMANT, RULE_DORMANT_NO_RECENCY
    elif rfm.recency < config.active_max_recency_days:
        segment, rule = SEGMENT_ACTIVE, RULE_ACTIVE
    else:
        segment, rule = SEGMENT_DORMANT, RULE_DORMANT_RECENCY

    # 3. Score in float arithmetic (score is a DOUBLE column): the Decimal monetary is converted first, so
    # results match any float implementation of the formula (e.g. SQL over DOUBLE), not Decimal rounding.
    score: float | None = None
    if rfm.frequency is not None and rfm.monetary is not None:
        score = rfm.frequency * config.weight_frequency + float(rfm.monetary) * config.weight_monetary

    # 4. Recommendation: newest-first distinct SKUs (this event's included) that are sellable now.
    recommendation: list[str] = []
    candidates: list[CandidateSku] = []
    limit = config.max_recommendations
    entries = _recommendation_entries(config.recommendation_prefix)
    if limit > 0:
        for sku in recent_including(state, event, config)[0] if recent is None else recent:
            qty = inventory.get(sku)
            candidates.append(CandidateSku(sku, qty))
            if qty is not None and qty > 0:
                entry = entries.get(sku)
                if entry is None:
                    entry = entries[sku] = sys.intern(entries.prefix + sku)
                recommendation.append(entry)
                if len(recommendation) >= limit:
                    break  # older SKUs were not considered: the audit lists only those examined

    rec = tuple(recommendation)
    channel: str | None = None
    if config.rules == RULES_V2:
        channels = state.recent_channels
        if not has_seen(state, event.event_id):  # a state from before this event was observed
            channels = channels_including(channels, event, config)
        channel = preferred_channel(channels)
    # Positional, in field order: msgspec matches keyword arguments by name, which for the audit's 24
    # fields costs several times the construction itself, once per decision on the streaming path.
    # tests/unit/decisions pin every field against a keyword-built expectation.
    decision = Decision(
        event.user_id,  # customer_id
        segment,
        rec,  # recommendation
        score,
        now_ms,  # updated_at_ms
        event.event_time_ms,
        config.logic_version,
        channel,  # channel_preference
    )
    audit = DecisionAudit(
        event.event_id,
        event.event_time_ms,
        event.event_type,
        event_sku,  # event_sku_id
        event.user_id,  # customer_id
        profile is not None,  # profile_found
        None if profile is None else profile.segment,
        None if profile is None else profile.recency,
        None if profile is None else profile.frequency,
        None if profile is None else profile.monetary,
        None if profile is None else profile.rfm_as_of,
        None if profile is None else profile.snapshot,
        rfm.adjusting_order_ids,
        rfm.recency,
        rfm.frequency,
        rfm.monetary,
        event_sku_sellable,
        tuple(candidates),
        rule,
        segment,
        rec,  # recommendation
        score,
        config.logic_version,
        now_ms,  # decided_at_ms
        channel,  # channel_preference
    )
    return decision, audit
