"""From one polled batch of raw records to the customer shards that process them, and the dead letters."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from persona.contracts import (
    BehaviorEvent,
    ErasureRequest,
    Err,
    InventoryRow,
    OrderFact,
    TimeWindow,
    parse_behavior_event,
    parse_erasure_request,
    parse_inventory_row,
    parse_order_change,
)
from persona.flows.common.metrics import FlowMetrics, dlq_reason
from persona.kafka.bytewax_io import OutRecord, RawBatch, dead_letter
from persona.settings import PipelineSettings

ShardItem = BehaviorEvent | OrderFact | InventoryRow | ErasureRequest
"""What a shard processes, in arrival order: inventory changes reach every shard."""

DLQ = "dlq"
"""The key of the dead letters among ``route``'s outputs; the others are shard keys."""


def shard_of(customer_id: int, shards: int) -> str:
    """The key of the shard that holds ``customer_id``."""
    return str(customer_id % shards)


@functools.cache
def _shard_names(shards: int) -> tuple[str, ...]:
    return tuple(str(i) for i in range(shards))


_PARSERS: dict[str, tuple[Callable[[bytes, TimeWindow, int], Any], Callable[[Any], int] | None]] = {
    # Topics field -> (parser, the customer a parsed record belongs to; None: it goes to every shard)
    "behavior_events": (parse_behavior_event, attrgetter("user_id")),
    "order_facts": (parse_order_change, attrgetter("customer_id")),
    "inventory_changes": (parse_inventory_row, None),
    "erasures": (parse_erasure_request, attrgetter("customer_id")),
}


def route(
    settings: PipelineSettings, batch: RawBatch, metrics: FlowMetrics | None = None
) -> list[tuple[str, Any]]:
    """One polled batch -> ``(shard, [items])`` per shard it touches, and ``(DLQ, [records])``.

    Order within a shard is the batch's order; an inventory change goes to every shard, because any
    shard may hold customers offered that SKU. ``metrics``: where the batch's counts go.
    """
    topics = settings.topics
    shards = settings.enrich_shards
    topic = batch.topic
    kind = next((name for name in _PARSERS if getattr(topics, name) == topic), None)
    if kind is None:
        raise ValueError(f"the enrich flow does not read topic {topic!r}")
    parse, customer_of = _PARSERS[kind]
    parsed: list[ShardItem] = []
    dlq: list[OutRecord] = []
    window = settings.time_window
    now_ms = int(time.time() * 1000)  # once per batch: the plausibility window's "now"
    reasons: dict[str, int] = {}
    for key, value in batch.records:
        result = parse(value or b"", window, now_ms)
        if isinstance(result, Err):
            dlq.append(dead_letter(topic, key, value, result.reason))
            reason = dlq_reason(result.reason)
            reasons[reason] = reasons.get(reason, 0) + 1
        else:
            parsed.append(result.value)
    if metrics is not None and metrics.enabled:
        metrics.events_in(topic, len(batch))
        metrics.dead_letters(topic, reasons)
    by_shard: dict[str, list[ShardItem]] = {}
    if customer_of is None:
        if parsed:
            by_shard = dict.fromkeys(_shard_names(shards), parsed)
    else:
        names = _shard_names(shards)
        for item in parsed:
            shard = names[customer_of(item) % shards]  # shard_of, without a str() per record
            items = by_shard.get(shard)
            if items is None:
                by_shard[shard] = [item]
            else:
                items.append(item)
    out: list[tuple[str, Any]] = list(by_shard.items())
    if dlq:
        out.append((DLQ, dlq))
    return out
