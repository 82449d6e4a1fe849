"""persona.decisions: the v1 segment decision (DESIGN §4) as pure functions over immutable records.

The same code serves the streaming flow, replay/backtest (``persona.replay``) and tests: ``decide``
(``logic``), the per-customer state and its transitions (``state``), and the per-customer step both
run around ``decide`` (``step``).
"""

from persona.decisions.config import DEFAULT_CONFIG, LogicV1Config
from persona.decisions.erasure import is_erased_past, profile_is_erased_past
from persona.decisions.logic import (
    RULE_ACTIVE,
    RULE_DORMANT_NO_RECENCY,
    RULE_DORMANT_RECENCY,
    RULE_VIP_HIGH_INVENTORY,
    SEGMENT_ACTIVE,
    SEGMENT_DORMANT,
    SEGMENT_VIP_HIGH_INVENTORY,
    EffectiveRfm,
    InventoryView,
    candidate_skus,
    decide,
    effective_rfm,
)
from persona.decisions.state import (
    EMPTY_STATE,
    CountedOrders,
    CustomerState,
    Recent,
    apply_order,
    count_orders,
    has_seen,
    observe_event,
    pack_times,
    prune_orders,
    recent_including,
    unpack_times,
    with_recent,
)
from persona.decisions.step import (
    Offered,
    OfferedTo,
    PendingDecision,
    index_offers,
    record_offer,
    step_event,
    step_order,
    take_offered,
)

__all__ = [
    "DEFAULT_CONFIG",
    "EMPTY_STATE",
    "RULE_ACTIVE",
    "RULE_DORMANT_NO_RECENCY",
    "RULE_DORMANT_RECENCY",
    "RULE_VIP_HIGH_INVENTORY",
    "SEGMENT_ACTIVE",
    "SEGMENT_DORMANT",
    "SEGMENT_VIP_HIGH_INVENTORY",
    "CountedOrders",
    "CustomerState",
    "EffectiveRfm",
    "InventoryView",
    "LogicV1Config",
    "Offered",
    "OfferedTo",
    "PendingDecision",
    "Recent",
    "apply_order",
    "candidate_skus",
    "count_orders",
    "decide",
    "effective_rfm",
    "has_seen",
    "index_offers",
    "is_erased_past",
    "observe_event",
    "pack_times",
    "profile_is_erased_past",
    "prune_orders",
    "recent_including",
    "record_offer",
    "step_event",
    "step_order",
    "take_offered",
    "unpack_times",
    "with_recent",
]
