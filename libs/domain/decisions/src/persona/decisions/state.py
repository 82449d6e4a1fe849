"""Per-customer state of the decision logic, and its pure transitions.

``CustomerState`` is what the enrich flow keeps per customer (in its shards, msgpack-encoded in their
snapshots) and what replay keeps in a dict. Transitions never mutate their input: they return a new state
(or the same object when nothing changed), so a state held by a decision waiting for inventory reads is
never changed under its feet. The dicts inside are copy-on-write: treat them as read-only.

Bounds (state must not grow without limit on a long-running flow):
- ``recent_skus``: the ``recent_sku_capacity`` (20) most recent distinct SKUs of view/add_to_cart events.
  Only 5 are recommended, and 20 leaves room for 15 of them to be unsellable.
- ``seen``: the ``seen_event_capacity`` (32) most recently decided event ids of the customer, each as an
  8-byte BLAKE2b digest (``event_id_digest``) packed into one ``bytes``: ~290 bytes a customer where the
  ids themselves, as strings in a dict, would take ~3 KB, and one cheap value to snapshot. Two ids of one
  customer's last 32 sharing a digest (odds ~2^-59) would drop the newer as a duplicate. Duplicates come
  from producer retries and at-least-once redelivery, i.e. seconds to minutes apart, when a customer has
  produced only a handful of other events; a duplicate arriving after 32 newer events of the same customer
  is decided again, which is idempotent downstream (the audit table is keyed by event_id and rt consumers
  order rows by ``version``). Bytewax recovery itself needs no de-duplication: it rolls state back together
  with the input offsets.
- ``orders``: one entry per order id of the customer, deleted orders kept as tombstones so a late stale
  change cannot resurrect them. ``prune_orders`` drops orders that can no longer count (UTC date at or
  before the profile's ``rfm_as_of``: the nightly profile already includes them); the flow prunes at
  every order change (``step.step_order``), replay does not.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from hashlib import blake2b

import msgspec

from persona.contracts import (
    COUNTED_STATUSES,
    RECOMMENDING_EVENT_TYPES,
    BehaviorEvent,
    OrderFact,
    date_to_day,
    utc_day,
)
from persona.contracts.timeutil import DAY_MS
from persona.decisions.config import DEFAULT_CONFIG, LogicV1Config


class CountedOrders(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """What ``effective_rfm`` needs of a customer's counted orders (not deleted, counted status),
    derived from ``CustomerState.orders`` whenever they change (``count_orders``)."""

    count: int
    total: Decimal
    earliest_day: int  # UTC days since the epoch; -1 when count is 0
    latest_day: int
    ids: tuple[int, ...]  # ascending


def count_orders(orders: dict[int, OrderFact], after_day: int | None = None) -> CountedOrders:
    """The counted orders of ``orders``; with ``after_day``, only those of a later UTC day."""
    count = 0
    total = Decimal(0)
    earliest = latest = -1
    ids: list[int] = []
    for order in orders.values():
        if order.deleted or order.status not in COUNTED_STATUSES:
            continue
        day = order.order_time_ms // DAY_MS
        if after_day is not None and day <= after_day:
            continue
        count += 1
        total += order.total_amount
        if day > latest:
            latest = day
        if earliest < 0 or day < earliest:
            earliest = day
        ids.append(order.order_id)
    ids.sort()
    return CountedOrders(count, total, earliest, latest, tuple(ids))


class CustomerState(msgspec.Struct, frozen=True, gc=False, array_like=True):
    # array_like: encoded (enrich snapshots) as an array, without its field names for every customer.
    # gc=False: a flow holds one per customer for its whole life, and the cyclic GC would walk all of
    # them on every full collection (bench/enrich_core_bench.py measures it). It cannot be part of a
    # cycle: it holds a tuple of str, bytes and a dict of untracked OrderFact structs.
    # Recent view/add_to_cart SKUs, distinct, newest first (by event time; ties: later arrival first), as
    # a tuple so the per-event lookups (`tuple.index`) run in C.
    recent_skus: tuple[str, ...] = ()
    # The event_time_ms of the newest sighting of recent_skus[i], 8 bytes each (``pack_times``): one
    # bytes, not a tuple of ints per event, which the young GC collections would walk and whose ints
    # would cost far more memory per customer.
    recent_times: bytes = b""
    orders: dict[int, OrderFact] = msgspec.field(default_factory=dict)
    # Digests (``event_id_digest``) of decided event ids, 8 bytes each, oldest first.
    seen: bytes = b""
    # ``count_orders(orders)``, kept with every change of orders: a decision then needs no walk over
    # the day's orders (which grow with each order until the nightly profile includes them). None:
    # not derived (a state decoded from a recovery store that lacks this field); walked instead.
    counted: CountedOrders | None = None
    # The channels of the customer's most recent events that named one, newest first, at most
    # ``recent_channel_capacity`` (rules v2's channel_preference). Kept whatever the rules, so switching
    # the live logic to v2 needs no rebuild of the state. Last field: states encoded before it existed
    # decode with none.
    recent_channels: tuple[str, ...] = ()


EMPTY_STATE = CustomerState()
"""A shared empty state; safe to share because transitions never mutate a state."""

Recent = tuple[tuple[str, ...], bytes]

_TIME_SIZE = 8
_TIME_BIAS = 1 << 63  # signed int64 -> unsigned, so packed times compare as bytes as they do as ints


def _time_key(event_time_ms: int) -> bytes:
    return (event_time_ms + _TIME_BIAS).to_bytes(_TIME_SIZE, "big")


def pack_times(times: Iterable[int]) -> bytes:
    """Event times (ms) as ``CustomerState.recent_times`` holds them."""
    return b"".join(_time_key(t) for t in times)


def unpack_times(packed: bytes) -> tuple[int, ...]:
    """The event times (ms) of ``CustomerState.recent_times``, newest first."""
    return tuple(
        int.from_bytes(packed[i : i + _TIME_SIZE], "big") - _TIME_BIAS
        for i in range(0, len(packed), _TIME_SIZE)
    )


def with_recent(
    skus: tuple[str, ...], times: bytes, sku_id: str, event_time_ms: int, capacity: int
) -> Recent:
    """The recent SKUs after seeing ``sku_id`` at ``event_time_ms``: ordered by event time, not arrival.

    ``times`` is packed (``pack_times``). Ordering by event time makes a late (out-of-order) event land
    where it belongs instead of masquerading as the newest view; among equal times the later arrival
    counts as newer. If the SKU is already known at a later time, nothing changes. At most ``capacity``
    SKUs are kept (the oldest fall off).
    """
    key = _time_key(event_time_ms)
    try:
        at = skus.index(sku_id)
    except ValueError:
        at = -1
    if at >= 0:
        start = at * _TIME_SIZE
        if times[start : start + _TIME_SIZE] > key:
            return skus, times  # already remembered as more recent than this event
        skus = skus[:at] + skus[at + 1 :]
        times = times[:start] + times[start + _TIME_SIZE :]
    # Interned: every customer's tuple then points at one string per SKU, not one per event parsed.
    sku_id = sys.intern(sku_id)
    keep = (capacity - 1) * _TIME_SIZE
    # Fast path (in-order stream): this is the newest sighting, so it goes first.
    if not times or times[:_TIME_SIZE] <= key:
        return (sku_id, *skus[: capacity - 1]), key + times[:keep]
    pos = next(
        (i for i in range(len(skus)) if times[i * _TIME_SIZE : (i + 1) * _TIME_SIZE] <= key),
        len(skus),
    )
    if pos >= capacity:
        return skus, times  # older than everything remembered, and no room left
    cut = pos * _TIME_SIZE
    new_skus = (*skus[:pos], sku_id, *skus[pos:])[:capacity]
    new_times = (times[:cut] + key + times[cut:])[: capacity * _TIME_SIZE]
    return new_skus, new_times


def recent_including(state: CustomerState, event: BehaviorEvent, config: LogicV1Config) -> Recent:
    """The recent SKUs (and their times) once ``event`` is observed, whether or not it already was."""
    if event.sku_id is not None and event.event_type in RECOMMENDING_EVENT_TYPES:
        return with_recent(
            state.recent_skus,
            state.recent_times,
            event.sku_id,
            event.event_time_ms,
            config.recent_sku_capacity,
        )
    return state.recent_skus, state.recent_times


DIGEST_SIZE = 8


def event_id_digest(event_id: str) -> bytes:
    """A stable 8-byte digest of an event id (the same in every process, unlike ``hash``)."""
    return blake2b(event_id.encode(), digest_size=DIGEST_SIZE).digest()


def _holds(seen: bytes, digest: bytes) -> bool:
    at = seen.find(digest)
    while at >= 0:
        if at % DIGEST_SIZE == 0:  # a match straddling two digests is no match
            return True
        at = seen.find(digest, at + 1)
    return False


def has_seen(state: CustomerState, event_id: str) -> bool:
    """Whether this event id was already decided (within the ``seen`` bound)."""
    return bool(state.seen) and _holds(state.seen, event_id_digest(event_id))


def observe_event(
    state: CustomerState, event: BehaviorEvent, config: LogicV1Config = DEFAULT_CONFIG
) -> CustomerState:
    """Record a decided event: its SKU (view/add_to_cart) and its id. A seen id returns ``state`` itself
    (and only a seen id does: the ids change otherwise), so ``observe_event(s, e) is s`` is ``has_seen``
    without digesting the id twice."""
    digest = event_id_digest(event.event_id)
    if state.seen and _holds(state.seen, digest):
        return state
    seen = state.seen + digest
    keep = config.seen_event_capacity * DIGEST_SIZE
    if len(seen) > keep:
        seen = seen[-keep:]  # evict the oldest ids
    skus, times = recent_including(state, event, config)
    channels = channels_including(state.recent_channels, event, config)
    # positional: once per event
    return CustomerState(skus, times, state.orders, seen, state.counted, channels)


def channels_including(
    channels: tuple[str, ...], event: BehaviorEvent, config: LogicV1Config
) -> tuple[str, ...]:
    """The customer's recent channels once ``event`` is observed (newest first, bounded): in arrival
    order, since a preference follows what the customer does lately, not the events' clocks."""
    channel = event.channel
    if not channel:
        return channels
    return (sys.intern(channel), *channels[: config.recent_channel_capacity - 1])


def _supersedes(new: OrderFact, old: OrderFact) -> bool:
    """Whether change ``new`` of an order replaces the stored ``old`` one.

    Changes are ordered by (ts_ms, updated_at): ts_ms is where the change sits in the database log, which
    is authoritative even when the application's updated_at is coarse or skewed; updated_at breaks ts_ms
    ties. On a full tie, a delete wins over a non-delete (a delete's ``before`` image carries the previous
    updated_at) and otherwise the later arrival wins — in a Kafka partition that is the later change.
    """
    if new.ts_ms != old.ts_ms:
        return new.ts_ms > old.ts_ms
    if new.updated_at_ms != old.updated_at_ms:
        return new.updated_at_ms > old.updated_at_ms
    if old.deleted and not new.deleted:
        return False
    return new != old  # an exact duplicate changes nothing (and costs no copy)


def apply_order(state: CustomerState, fact: OrderFact) -> CustomerState:
    """Record an order change; stale (older) changes and duplicates leave ``state`` as is.

    The caller routes facts by ``fact.customer_id``. Because only the latest version of each order is kept,
    replays and duplicate deliveries can never double count (DESIGN §3).
    """
    old = state.orders.get(fact.order_id)
    if old is not None and not _supersedes(fact, old):
        return state
    orders = state.orders.copy()
    orders[fact.order_id] = fact
    return CustomerState(
        state.recent_skus, state.recent_times, orders, state.seen, count_orders(orders), state.recent_channels
    )


def prune_orders(state: CustomerState, rfm_as_of: date) -> CustomerState:
    """Drop orders whose UTC date is on/before ``rfm_as_of``: no decision with that (or a newer) profile
    counts them. Call it with the profile in use; profiles only move forward in time, so nothing that
    could still count is lost. A later change of a pruned order is stored again and, being as old, still
    does not count.
    """
    cutoff = date_to_day(rfm_as_of)
    if all(utc_day(o.order_time_ms) > cutoff for o in state.orders.values()):
        return state
    orders = {k: o for k, o in state.orders.items() if utc_day(o.order_time_ms) > cutoff}
    return CustomerState(
        state.recent_skus, state.recent_times, orders, state.seen, count_orders(orders), state.recent_channels
    )
