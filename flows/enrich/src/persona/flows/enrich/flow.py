"""Wiring of the enrich flow; the decision itself is ``persona.decisions.decide``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import bytewax.operators as op
from bytewax.connectors.kafka import KafkaSinkMessage, KafkaSourceMessage
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import Sink

from persona.contracts import (
    BehaviorEvent,
    CustomerProfile,
    Err,
    OrderFact,
    parse_behavior_event,
    parse_order_change,
)
from persona.decisions import (
    EMPTY_STATE,
    CustomerState,
    apply_order,
    candidate_skus,
    decide,
    has_seen,
    observe_event,
    prune_orders,
)
from persona.pipeline import DecisionEnvelope, PipelineSettings, encode_envelope
from persona.pipeline.kafka_wiring import RawMessage, dead_letter, kafka_sink, kafka_source

SourceItem = KafkaSourceMessage[bytes | None, bytes | None]


class Inventory(Protocol):
    def sellable(self, sku_ids: Iterable[str]) -> dict[str, int | None]: ...


class Profiles(Protocol):
    def get(self, customer_id: int) -> CustomerProfile | None: ...

    def maybe_refresh(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class EnrichState:
    """Bytewax state per customer: the decision state and the last version handed out."""

    customer: CustomerState = EMPTY_STATE
    version: int = 0


@dataclass(frozen=True, slots=True)
class Pending:
    """An event ready to decide: the customer's state as of this event and its version."""

    event: BehaviorEvent
    state: CustomerState
    version: int


Parsed = tuple[str, BehaviorEvent | OrderFact | RawMessage]


def parse(settings: PipelineSettings, msg: SourceItem) -> Parsed:
    topics = settings.topics
    raw = msg.value or b""
    if msg.topic == topics.order_facts:
        order = parse_order_change(raw)
        if isinstance(order, Err):
            return ("dlq", dead_letter(topics.order_facts, msg.key, msg.value, order.reason))
        return (str(order.value.customer_id), order.value)
    event = parse_behavior_event(raw)
    if isinstance(event, Err):
        return ("dlq", dead_letter(topics.behavior_events, msg.key, msg.value, event.reason))
    return (str(event.value.user_id), event.value)


def step_customer(
    settings: PipelineSettings, profiles: Profiles
) -> Callable[[EnrichState | None, BehaviorEvent | OrderFact], tuple[EnrichState, list[Pending]]]:
    config = settings.logic

    def mapper(
        state: EnrichState | None, item: BehaviorEvent | OrderFact
    ) -> tuple[EnrichState, list[Pending]]:
        state = state or EnrichState()
        if isinstance(item, OrderFact):
            customer = apply_order(state.customer, item)
            profile = profiles.get(item.customer_id)
            if profile is not None:
                # Orders the nightly profile already includes can never count again.
                customer = prune_orders(customer, profile.rfm_as_of)
            return EnrichState(customer, state.version), []
        if has_seen(state.customer, item.event_id):
            return state, []  # a duplicate delivery: no second decision
        version = state.version + 1
        pending = Pending(item, state.customer, version)
        return EnrichState(observe_event(state.customer, item, config), version), [pending]

    return mapper


def decide_batch(
    settings: PipelineSettings,
    profiles: Profiles,
    inventory: Inventory,
    clock: Callable[[], float],
) -> Callable[[list[tuple[str, Pending]]], list[RawMessage]]:
    config = settings.logic
    topic = settings.topics.segment_decisions

    def mapper(batch: list[tuple[str, Pending]]) -> list[RawMessage]:
        profiles.maybe_refresh()
        skus: set[str] = set()
        for _key, pending in batch:
            skus.update(candidate_skus(pending.state, pending.event, config))
        # One batched read (cache misses only) for the whole batch.
        stock = inventory.sellable(skus)
        now_ms = int(clock() * 1000)
        out: list[RawMessage] = []
        for key, pending in batch:
            event = pending.event
            decision, audit = decide(event, profiles.get(event.user_id), pending.state, stock, config, now_ms)
            out.append(
                KafkaSinkMessage(
                    key=key.encode(),
                    value=encode_envelope(DecisionEnvelope(pending.version, decision, audit)),
                    topic=topic,
                )
            )
        return out

    return mapper


def _is_dlq(item: Parsed) -> bool:
    return item[0] == "dlq"


def build_flow(
    settings: PipelineSettings | None = None,
    source: Source[Any] | None = None,
    sink: Sink[Any] | None = None,
    *,
    profiles: Profiles | None = None,
    inventory: Inventory | None = None,
    clock: Callable[[], float] = time.time,
) -> Dataflow:
    settings = settings or PipelineSettings.from_env()
    if profiles is None:
        from persona.paimon import PaimonWarehouse
        from persona.pipeline.profiles import PaimonProfileStore

        profiles = PaimonProfileStore(
            PaimonWarehouse(settings.warehouse),
            settings.table("customer_profile"),
            refresh_seconds=settings.profile_refresh_seconds,
        )
        profiles.maybe_refresh()
    if inventory is None:
        from persona.inventory import CassandraInventory, InventoryCache

        inventory = InventoryCache(
            CassandraInventory(
                settings.cassandra_hosts,
                settings.cassandra_port,
                keyspace=settings.inventory_keyspace,
                table=settings.inventory_table,
            ),
            ttl_seconds=settings.inventory_ttl_seconds,
        )
    topics = settings.topics
    flow = Dataflow("persona_enrich")
    source = source or kafka_source(settings, [topics.behavior_events, topics.order_facts], "enrich")
    messages = op.input("in", flow, source)
    parsed = op.map("parse", messages, lambda m: parse(settings, m))
    split = op.branch("split_dlq", parsed, _is_dlq)
    dlq = op.map("dlq", split.trues, lambda item: item[1])
    keyed = split.falses  # (customer key, event or order fact): already a keyed stream
    # The branch above leaves only events and order facts in `keyed`; bytewax's types cannot say so.
    pending = op.stateful_flat_map("customer", keyed, step_customer(settings, profiles))  # type: ignore[arg-type]
    decided = op.flat_map_batch("decide", pending, decide_batch(settings, profiles, inventory, clock))
    op.output("out", op.merge("all", decided, dlq), sink or kafka_sink(settings))
    return flow
