"""Wiring of the enrich flow; the decision itself is ``persona.decisions.decide``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import bytewax.operators as op
import msgspec
from bytewax.connectors.kafka import KafkaSinkMessage, KafkaSourceMessage
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import Sink

from persona.contracts import (
    BehaviorEvent,
    CustomerProfile,
    Err,
    InventoryRow,
    OrderFact,
    parse_behavior_event,
    parse_inventory_row,
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

    def invalidate(self, sku_id: str) -> None: ...


class Profiles(Protocol):
    def get(self, customer_id: int) -> CustomerProfile | None: ...

    def maybe_refresh(self) -> bool: ...


class Redecide(msgspec.Struct, frozen=True):
    """A request (on the ``redecide`` topic) to decide a customer again: a SKU they are offered
    became unsellable. ``since_version`` is the decision that recommended it."""

    customer_id: int
    sku_id: str
    since_version: int
    changed_at_ms: int


_redecide_encoder = msgspec.json.Encoder()
_redecide_decoder = msgspec.json.Decoder(Redecide)


@dataclass(frozen=True, slots=True)
class EnrichState:
    """Bytewax state per customer: decision state, last version handed out, last decided event."""

    customer: CustomerState = EMPTY_STATE
    version: int = 0
    last_event: BehaviorEvent | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> EnrichState:
        # Bytewax deep-copies every touched state at each snapshot. A state is never mutated (each
        # transition builds a new one, persona.decisions' states included), so the copy can be
        # the state itself; the profile showed the deep copy at ~10% of the flow's time.
        return self


class Pending(NamedTuple):
    """An event ready to decide: the customer's state as of this event and its version."""

    event: BehaviorEvent
    state: CustomerState
    version: int


class Offered(NamedTuple):
    """Index update: as of ``version``, customer ``customer_id`` is (or is no longer) offered the SKU.

    A NamedTuple (built in C), not a frozen dataclass: one is made per candidate SKU of every decision.
    """

    customer_id: int
    version: int
    recommended: bool


CustomerItem = BehaviorEvent | OrderFact | Redecide
# parse() tags each message: "c" customer item keyed by customer id, "s" inventory row keyed by SKU,
# "dlq" a dead letter.
Parsed = tuple[str, str, CustomerItem | InventoryRow | RawMessage]


def parse(settings: PipelineSettings, msg: SourceItem) -> Parsed:
    topics = settings.topics
    raw = msg.value or b""
    if msg.topic == topics.order_facts:
        order = parse_order_change(raw)
        if isinstance(order, Err):
            return ("dlq", "", dead_letter(topics.order_facts, msg.key, msg.value, order.reason))
        return ("c", str(order.value.customer_id), order.value)
    if msg.topic == topics.inventory_changes:
        row = parse_inventory_row(raw)
        if isinstance(row, Err):
            return ("dlq", "", dead_letter(topics.inventory_changes, msg.key, msg.value, row.reason))
        return ("s", row.value.sku_id, row.value)
    if msg.topic == topics.redecide:
        try:
            request = _redecide_decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            return ("dlq", "", dead_letter(topics.redecide, msg.key, msg.value, str(error)))
        return ("c", str(request.customer_id), request)
    event = parse_behavior_event(raw)
    if isinstance(event, Err):
        return ("dlq", "", dead_letter(topics.behavior_events, msg.key, msg.value, event.reason))
    return ("c", str(event.value.user_id), event.value)


def step_customer(
    settings: PipelineSettings, profiles: Profiles
) -> Callable[[EnrichState | None, CustomerItem], tuple[EnrichState, list[Pending]]]:
    config = settings.logic

    def mapper(state: EnrichState | None, item: CustomerItem) -> tuple[EnrichState, list[Pending]]:
        state = state or EnrichState()
        if isinstance(item, OrderFact):
            customer = apply_order(state.customer, item)
            profile = profiles.get(item.customer_id)
            if profile is not None:
                # Orders the nightly profile already includes can never count again.
                customer = prune_orders(customer, profile.rfm_as_of)
            return EnrichState(customer, state.version, state.last_event), []
        if isinstance(item, Redecide):
            last = state.last_event
            if last is None:
                return state, []
            version = state.version + 1
            # Same inputs as the last decision, fresh stock. The audit row gets its own id so the
            # original decision's row stays; the state is not observed again.
            again = msgspec.structs.replace(last, event_id=f"{last.event_id}~redecide-{version}")
            return EnrichState(state.customer, version, last), [Pending(again, state.customer, version)]
        if has_seen(state.customer, item.event_id):
            return state, []  # a duplicate delivery: no second decision
        version = state.version + 1
        pending = Pending(item, state.customer, version)
        return EnrichState(observe_event(state.customer, item, config), version, item), [pending]

    return mapper


Decided = tuple[str, RawMessage] | tuple[str, tuple[str, tuple[Offered, ...]]]


def decide_batch(
    settings: PipelineSettings,
    profiles: Profiles,
    inventory: Inventory,
    clock: Callable[[], float],
) -> Callable[[list[tuple[str, Pending]]], list[Decided]]:
    config = settings.logic
    topic = settings.topics.segment_decisions

    def mapper(batch: list[tuple[str, Pending]]) -> list[Decided]:
        profiles.maybe_refresh()
        skus: set[str] = set()
        for _key, pending in batch:
            skus.update(candidate_skus(pending.state, pending.event, config))
        # One batched read (cache misses only) for the whole batch.
        stock = inventory.sellable(skus)
        now_ms = int(clock() * 1000)
        out: list[Decided] = []
        # Index updates grouped per SKU for the whole batch: one item per SKU through the keyed
        # index step instead of one per candidate (per-item operator overhead dominated otherwise).
        offers: dict[str, list[Offered]] = {}
        for key, pending in batch:
            event = pending.event
            decision, audit = decide(event, profiles.get(event.user_id), pending.state, stock, config, now_ms)
            value = encode_envelope(DecisionEnvelope(pending.version, decision, audit))
            out.append(("decision", KafkaSinkMessage(key=key.encode(), value=value, topic=topic)))
            offered = decision.recommendation
            prefix = config.recommendation_prefix
            for candidate in audit.candidates:
                offer = Offered(event.user_id, pending.version, prefix + candidate.sku_id in offered)
                offers.setdefault(candidate.sku_id, []).append(offer)
        out.extend(("index", (sku, tuple(updates))) for sku, updates in offers.items())
        return out

    return mapper


def step_sku_index(
    settings: PipelineSettings, clock: Callable[[], float]
) -> Callable[
    [dict[int, int] | None, tuple[Offered, ...] | InventoryRow],
    tuple[dict[int, int] | None, list[RawMessage]],
]:
    """Per SKU: which customers' current recommendation holds it (customer -> version that did).

    When an inventory change makes the SKU unsellable, each of them is sent to be re-decided.
    """
    topic = settings.topics.redecide

    def mapper(
        offered_to: dict[int, int] | None, item: tuple[Offered, ...] | InventoryRow
    ) -> tuple[dict[int, int] | None, list[RawMessage]]:
        # This step owns its dict (nothing else holds it), so it is updated in place.
        offered_to = offered_to if offered_to is not None else {}
        if isinstance(item, tuple):
            for offer in item:
                known = offered_to.get(offer.customer_id)
                if offer.recommended:
                    if known is None or offer.version >= known:
                        offered_to[offer.customer_id] = offer.version
                elif known is not None and offer.version > known:
                    del offered_to[offer.customer_id]
            return (offered_to or None), []
        if item.sellable > 0 or not offered_to:
            return (offered_to or None), []
        now_ms = int(clock() * 1000)
        requests: list[RawMessage] = [
            KafkaSinkMessage(
                key=str(customer_id).encode(),
                value=_redecide_encoder.encode(
                    Redecide(customer_id, item.sku_id, version, item.updated_at_ms or now_ms)
                ),
                topic=topic,
            )
            for customer_id, version in sorted(offered_to.items())
        ]
        # Until a new decision offers it again, nobody is offered this SKU.
        return None, requests

    return mapper


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
    cache = inventory
    topics = settings.topics
    flow = Dataflow("persona_enrich")
    inputs = [topics.behavior_events, topics.order_facts, topics.inventory_changes, topics.redecide]
    messages = op.input("in", flow, source or kafka_source(settings, inputs, "enrich"))
    parsed = op.map("parse", messages, lambda m: parse(settings, m))
    split = op.branch("split_dlq", parsed, lambda item: item[0] == "dlq")
    dlq = op.map("dlq", split.trues, lambda item: item[2])
    by_kind = op.branch("split_kind", split.falses, lambda item: item[0] == "c")
    customer_items = op.map("customer_key", by_kind.trues, lambda item: (item[1], item[2]))

    def invalidate(item: Parsed) -> tuple[str, Any]:
        # The next read of this SKU goes to Cassandra, not to the cache.
        cache.invalidate(item[1])
        return (item[1], item[2])

    stock_changes = op.map("invalidate_cache", by_kind.falses, invalidate)
    # The branches above leave only customer items in `customer_items`; bytewax's types cannot say so.
    pending = op.stateful_flat_map("customer", customer_items, step_customer(settings, profiles))  # type: ignore[arg-type]
    decided = op.flat_map_batch("decide", pending, decide_batch(settings, profiles, inventory, clock))
    split_decided = op.branch("split_decided", decided, lambda item: item[0] == "decision")
    decisions = op.map("decisions", split_decided.trues, lambda item: item[1])
    index_updates = op.map("index_updates", split_decided.falses, lambda item: item[1])
    redecide = op.stateful_flat_map(
        "sku_index",
        op.merge("sku_items", index_updates, stock_changes),
        step_sku_index(settings, clock),
    )
    redecide_out = op.map("redecide_out", redecide, lambda item: item[1])
    op.output("out", op.merge("all", decisions, redecide_out, dlq), sink or kafka_sink(settings))
    return flow
