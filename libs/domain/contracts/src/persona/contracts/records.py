"""Typed records of every DESIGN §3 contract, as frozen msgspec Structs.

Structs rather than dataclasses because these are built on the per-event path: a frozen Struct is created
~10x faster than a frozen dataclass, and it still pickles (Bytewax recovery), compares by value and is
hashable. ``msgspec.structs.replace`` is the equivalent of ``dataclasses.replace``.

Instants are ``int`` epoch millis UTC (fields suffixed ``_ms``); money is ``Decimal``.
``gc=False`` is set on records that only hold scalars and tuples of scalars (they cannot form reference
cycles), which keeps the cyclic GC from scanning millions of them during a replay.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Final

import msgspec

# Order statuses from the orders table, and those that count for RFM (DESIGN §3).
ORDER_STATUSES: Final = frozenset({"PLACED", "PAID", "SHIPPED", "CANCELLED", "REFUNDED"})
COUNTED_STATUSES: Final = frozenset({"PAID", "SHIPPED"})
# Debezium operations we understand: create, update, snapshot read, delete.
ORDER_OPS: Final = frozenset({"c", "u", "r", "d"})

# Event types whose sku_id is the note's `last_viewed_sku` and feeds recommendations (DESIGN §3/§4).
RECOMMENDING_EVENT_TYPES: Final = frozenset({"view", "add_to_cart"})


class BehaviorEvent(msgspec.Struct, frozen=True, gc=False):
    """A `behavior_events` record (Kafka key: user_id as decimal string)."""

    event_id: str
    user_id: int
    event_type: str
    sku_id: str | None
    event_time_ms: int
    session_id: str | None = None
    channel: str | None = None


class OrderFact(msgspec.Struct, frozen=True, gc=False):
    """One normalized `orders_cdc` change: the order row as of this change.

    For ``op == "d"`` the row is Debezium's ``before`` image and ``deleted`` is true; otherwise it is
    ``after``. ``ts_ms`` is the envelope's ``ts_ms`` (the connector's log position in time), which orders
    changes of the same order together with ``updated_at_ms``.
    """

    order_id: int
    customer_id: int
    status: str
    total_amount: Decimal
    currency: str
    order_time_ms: int
    updated_at_ms: int
    op: str
    ts_ms: int
    deleted: bool = False

    @property
    def counts(self) -> bool:
        """Whether this order counts for RFM in this version (DESIGN §3)."""
        return not self.deleted and self.status in COUNTED_STATUSES


class InventoryRow(msgspec.Struct, frozen=True, gc=False):
    """A `supply.inventory_projection` row, or an `inventory_changes` message (same shape)."""

    sku_id: str
    available_qty: int
    reserved_qty: int
    updated_at_ms: int | None = None

    @property
    def sellable(self) -> int:
        """max(0, available - reserved): reserved stock cannot be sold (DESIGN §2)."""
        return max(0, self.available_qty - self.reserved_qty)


class CustomerProfile(msgspec.Struct, frozen=True, gc=False):
    """A Paimon `customer_profile` row (nightly RFM as of ``rfm_as_of``).

    ``recency``/``frequency``/``monetary`` may be null (e.g. a customer with no counted order in the RFM
    window). ``snapshot`` is not a column: it is the provenance the reader attaches (Paimon tag such as
    ``rfm-20261120`` or ``snapshot:42``) so the decision audit can say which profile version was used.
    """

    customer_id: int
    segment: str | None
    recency: int | None
    frequency: int | None
    monetary: Decimal | None
    lifecycle_stage: str | None
    rfm_as_of: date
    snapshot: str | None = None


class Decision(msgspec.Struct, frozen=True, gc=False):
    """A Paimon `marketing_segments` row (PK customer_id); also the `marketing_segments_rt` JSON body."""

    customer_id: int
    segment: str
    recommendation: tuple[str, ...]
    score: float | None
    updated_at_ms: int
    event_time_ms: int
    logic_version: str
    # Filled by rules v2 (persona.decisions.config); null under v1 and in rows written before it.
    channel_preference: str | None = None


class DecisionMessage(msgspec.Struct, frozen=True, gc=False):
    """A parsed `marketing_segments_rt` message: the row plus the per-customer monotonic ``version``."""

    decision: Decision
    version: int


class CandidateSku(msgspec.Struct, frozen=True, gc=False):
    """A SKU the decision looked at and the sellable quantity it saw (None = unknown: never promoted)."""

    sku_id: str
    sellable: int | None


class DecisionAudit(msgspec.Struct, frozen=True, gc=False):
    """A `segment_decisions` row (keyed by customer_id and event_id: an event's identity is
    (user_id, event_id)): every input of one decision, and what it produced.

    It answers "why was customer X in segment Y at time T": the profile values and version used, the
    orders that adjusted RFM, the effective R/F/M, each candidate SKU with the stock seen, the rule.
    """

    event_id: str
    event_time_ms: int
    event_type: str
    event_sku_id: str | None
    customer_id: int
    # Profile values used (all None when no profile row existed).
    profile_found: bool
    profile_segment: str | None
    profile_recency: int | None
    profile_frequency: int | None
    profile_monetary: Decimal | None
    profile_rfm_as_of: date | None
    profile_snapshot: str | None
    # Counted orders newer than the profile that adjusted it (order ids, ascending).
    adjusting_order_ids: tuple[int, ...]
    # Effective RFM (DESIGN §4.1).
    recency: int | None
    frequency: int | None
    monetary: Decimal | None
    # Stock seen: the event's SKU (VIP rule) and every recommendation candidate examined, newest first.
    event_sku_sellable: int | None
    candidates: tuple[CandidateSku, ...]
    rule: str
    segment: str
    recommendation: tuple[str, ...]
    score: float | None
    logic_version: str
    decided_at_ms: int
    channel_preference: str | None = None


class DlqRecord(msgspec.Struct, frozen=True, gc=False):
    """A dead-letter record: the source topic, why it failed, the original bytes, when.

    ``raw`` is a prefix of the original when ``raw_truncated``; ``raw_length`` and ``raw_sha256`` (hex)
    are those of the original (``raw_sha256`` None in records written before issue 17).
    """

    topic: str
    reason: str
    raw: bytes
    failed_at_ms: int
    raw_truncated: bool = False
    raw_length: int = 0
    raw_sha256: str | None = None
