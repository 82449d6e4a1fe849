"""The per-customer step around ``decide``: what the enrich flow and ``persona replay`` do with each
record of a customer, so both decide from the same inputs.

Per behavior event of customer c (state keyed by c)::

    pending = step_event(state, event, version, config)     # None: a duplicate delivery, no decision
    state = pending.state                                    # keep it
    decision, audit = decide(pending.event, profile, pending.state, stock, config, now_ms, pending.recent)

with ``stock`` read for ``candidate_skus(pending.state, pending.event, config, pending.recent)``.
Per order change, ``state = step_order(state, fact, rfm_as_of)``.

The enrich flow also keeps which customers are offered which recommendation entry, to re-decide
them when a SKU becomes unsellable (DESIGN §5): ``index_offers``, ``record_offer``, ``take_offered``
maintain that index in place (a shard's dicts; copying them per decision would cost more than the
decision).
"""

from __future__ import annotations

from datetime import date

import msgspec

from persona.contracts import BehaviorEvent, OrderFact
from persona.decisions.config import LogicV1Config
from persona.decisions.state import CustomerState, apply_order, observe_event, prune_orders


class PendingDecision(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """What ``decide`` reads for one event besides the profile and the stock.

    ``state`` is the customer's state with ``event`` observed, and ``recent`` its recent SKUs (this
    event's included), so ``decide`` and ``candidate_skus`` need not rebuild them; None makes them
    rebuild it (a re-decision, whose state is not observed again). ``version`` numbers the
    customer's decisions for consumers of ``marketing_segments_rt``, who keep the highest.

    The enrich flow builds one per event and snapshots those waiting for stock, as msgpack arrays
    (``array_like``). Untracked by the cyclic GC: it holds untracked structs, an int and a tuple of str.
    """

    event: BehaviorEvent
    state: CustomerState
    version: int
    recent: tuple[str, ...] | None


def step_event(
    state: CustomerState, event: BehaviorEvent, version: int, config: LogicV1Config
) -> PendingDecision | None:
    """The decision ``event`` asks for, numbered ``version``, with the customer's state once the event
    is observed (the state to keep); None for an id the state has seen, i.e. a duplicate delivery.
    The enrich flow numbers each customer's decisions; a replay, which does not, passes 0.

    Deciding from the observed state gives what deciding from ``state`` gives (``decide`` merges the
    event's SKU either way); the observed state's recent SKUs are at hand, so they are passed on.
    """
    observed = observe_event(state, event, config)
    if observed is state:
        return None
    return PendingDecision(event, observed, version, observed.recent_skus)


def step_order(state: CustomerState, fact: OrderFact, rfm_as_of: date | None) -> CustomerState:
    """The customer's state after order change ``fact``; with ``rfm_as_of`` (the profile in use),
    without the orders on or before that date, which no decision with that profile counts.

    Pruning bounds a long-running flow's state, and a pruned order never counts again through the
    version pruned. It is not neutral for every input, though: a change the pruned version had
    superseded (a stale or same-``ts_ms`` change arriving after it) is stored again, and counts if it
    dates the order after ``rfm_as_of``. A replay, which holds its whole input in memory anyway,
    passes None and keeps every order.
    """
    changed = apply_order(state, fact)
    return changed if rfm_as_of is None else prune_orders(changed, rfm_as_of)


Offered = dict[int, tuple[str, ...]]
"""Customer -> the recommendation entries (``"sku:<id>"``) of its newest decision; absent: none."""

OfferedTo = dict[str, dict[int, None]]
"""Recommendation entry -> the customers whose newest decision holds it.

The holders are dicts with None values, not sets: a dict of ints is never tracked by the cyclic GC,
while every set is, and a shard holds one per SKU recommended to anyone, for its whole life.
"""


def index_offers(offered: Offered) -> OfferedTo:
    """The entry -> customers index of ``offered``."""
    offered_to: OfferedTo = {}
    for customer_id, recommendation in offered.items():
        for entry in recommendation:
            offered_to.setdefault(entry, {})[customer_id] = None
    return offered_to


def record_offer(
    offered: Offered, offered_to: OfferedTo, customer_id: int, recommendation: tuple[str, ...]
) -> bool:
    """Make ``recommendation`` the customer's offer in both maps (in place); whether it changed."""
    before = offered.get(customer_id, ())
    if recommendation == before:
        return False
    for entry in before:
        if entry not in recommendation:
            holders = offered_to.get(entry)
            if holders is not None:
                holders.pop(customer_id, None)
                if not holders:
                    del offered_to[entry]
    for entry in recommendation:
        if entry not in before:
            holders = offered_to.get(entry)
            if holders is None:
                offered_to[entry] = {customer_id: None}
            else:
                holders[customer_id] = None
    if recommendation:
        offered[customer_id] = recommendation
    else:
        del offered[customer_id]
    return True


def take_offered(offered_to: OfferedTo, sku_id: str, config: LogicV1Config) -> list[int]:
    """The customers offered ``sku_id``, in id order, removed from its index entry (it became
    unsellable: their re-decisions record what they are offered instead)."""
    return sorted(offered_to.pop(config.recommendation_prefix + sku_id, ()))
