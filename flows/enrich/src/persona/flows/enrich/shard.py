"""One customer shard of the enrich flow: a Bytewax ``stateful_batch`` logic over the shard's items."""

from __future__ import annotations

import heapq
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
from bytewax.operators import StatefulBatchLogic

from persona.contracts import (
    BehaviorEvent,
    CustomerProfile,
    DecisionEnvelope,
    ErasureRequest,
    InventoryRow,
    OrderFact,
    behavior_event_to_json,
    decision_to_json,
    encode_decisions,
    erasure_to_json,
    order_fact_to_debezium_json,
)
from persona.decisions import (
    LogicConfig,
    Offered,
    OfferedTo,
    PendingDecision,
    candidate_skus,
    decide,
    index_offers,
    is_erased_past,
    profile_is_erased_past,
    record_offer,
    step_event,
    step_order,
    take_offered,
)
from persona.flows.enrich.customer_log import ShardLog
from persona.flows.enrich.evicted import EvictedCustomers
from persona.flows.enrich.routing import ShardItem, shard_of
from persona.flows.enrich.state import (
    EMPTY,
    Customers,
    EnrichState,
    ShardSnapshot,
    decode_record,
    encode_record,
    load_customer_log,
    log_records,
)
from persona.kafka.bytewax_io import OutRecord, dead_letter
from persona.settings import kv

if TYPE_CHECKING:
    from persona.flows.enrich.flow import EnrichContext

log = logging.getLogger(__name__)

Waiting = list[tuple[PendingDecision, tuple[str, ...]]]
"""Decisions waiting for inventory reads, oldest first, each with its candidate SKUs."""


class CustomerShard(StatefulBatchLogic[list[ShardItem], list[OutRecord], ShardSnapshot]):
    """The customers of one shard: their state, and which of them are offered which SKU.

    Per batch: order facts update a customer's orders; each new event (duplicates dropped) gets the
    customer's next version; then every pending event is decided with one inventory lookup for all
    their candidate SKUs. An inventory change that makes a SKU unsellable re-decides, in place, every
    customer of the shard whose current recommendation holds it (DESIGN §5). The per-customer step
    is ``persona.decisions.step``'s, as in ``persona replay``. An erasure request (``erasures``)
    forgets the customer (``_erase``); records of an erased customer's past are dropped
    (``persona.decisions.erasure``).

    The shard never blocks on Cassandra: a decision that needs a SKU the cache does not hold waits
    in ``waiting`` while that SKU is read in the background, and is decided at a later activation
    (``WAIT_POLL`` apart at most) once it is in. The rest of the batch is decided at once, except a
    waiting customer's later decisions, which wait behind it so its versions stay in order. The
    waiting decisions are part of the snapshot, so a crash loses none.

    A record whose processing raises (a bug, or a value nothing foresaw) goes to its topic's dead-letter
    topic with reason ``unprocessable: <error>``, and the shard goes on with the next record
    (``_unprocessable``). A record that fails its step leaves its customer's state as it was; an event
    that fails its decision stays observed (its id seen, its SKU recent) and its version handed out.
    """

    WAIT_POLL = timedelta(milliseconds=5)
    # How often an idle shard wakes to look for a new active logic version (the source itself reads
    # the store at most every PERSONA_PROFILE_REFRESH): a release reaches main even without traffic.
    LOGIC_POLL = timedelta(seconds=1)

    # Changed customers are written to the log in chunks of at least this many, and the rest at the
    # snapshot: large enough that a customer changed by several batches is mostly written once, small
    # enough that the snapshot's share stays a few milliseconds.
    LOG_CHUNK = 2048

    def __init__(self, ctx: EnrichContext, resume: ShardSnapshot | None) -> None:
        restore_started = time.perf_counter()
        self._ctx = ctx
        assert ctx.logic is not None  # EnrichContext sets it
        self._logic = ctx.logic
        self._config = ctx.logic.current()
        # The size of this shard's last snapshot (the state-size metric).
        self.snapshot_bytes = 0
        topics = ctx.settings.topics
        self._decisions_topic = topics.segment_decisions
        self._rt_topic = topics.marketing_segments_rt
        shards = ctx.settings.enrich_shards
        if resume is not None and resume.shards != shards:
            raise RuntimeError(
                f"the recovery store holds enrich state for {resume.shards} shards, but "
                f"PERSONA_ENRICH_SHARDS is {shards}: the shard count is fixed for a recovery store's life"
            )
        self._shards = shards
        self._topics = topics
        self.unprocessable = 0
        # Records dropped because they belong to an erased customer's past (docs/erasure.md).
        self.erased_past = 0
        self.customers: Customers = {}
        self.offered: Offered = {}
        self.waiting: Waiting = []
        # customers changed since they were last written to the customer log
        self._dirty: set[int] = set()
        state_dir = ctx.settings.enrich_state_dir
        resumed_log = resume.log if resume is not None else None
        self._log = ShardLog(Path(state_dir), ctx.compactor, resumed_log) if state_dir else None
        if resume is not None:
            restored = resume.decode()
            self.customers, self.offered = restored.customers, restored.offered
            self.waiting = [(p, self._skus_of(p)) for p in restored.waiting]
            if resumed_log is not None:
                if self._log is None:
                    raise RuntimeError(
                        "the recovery store's enrich snapshot keeps its customers in a customer log, but "
                        "PERSONA_ENRICH_STATE_DIR is not set: set it to the directory the flow wrote them to"
                    )
                load_customer_log(self._log.paths(), self.customers, self.offered)
            elif self._log is not None:
                # Restored from a snapshot that held the customers itself: the log starts with all of them.
                self._dirty.update(self.customers)
        self.offered_to: OfferedTo = index_offers(self.offered)
        # Whether any customer of the shard was ever erased: only then are profiles checked against
        # the erasure (``_profile``), so the decisions of a shard without erasures pay nothing for it.
        self._erasures = any(s.erased_at_ms is not None for s in self.customers.values())
        # Customers beyond the bound wait on disk (evicted.py); only with a customer log, which holds
        # every evicted customer's record for a restore.
        self._max_customers = ctx.settings.enrich_max_customers
        self._evicted: EvictedCustomers | None = None
        self.evictions = 0
        self.returns = 0
        if self._max_customers and state_dir:
            self._evicted = EvictedCustomers(Path(state_dir) / "evicted")
            self._evict()
        ctx.instruments.shards.append(self)
        if resume is not None:
            ctx.instruments.restored(time.perf_counter() - restore_started)

    def on_batch(self, values: list[list[ShardItem]]) -> tuple[list[list[OutRecord]], bool]:
        ctx = self._ctx
        ctx.snapshots.resumed()
        ctx.profiles.maybe_refresh()
        ctx.maybe_report()
        out: list[OutRecord] = []
        self._decide_waiting(out)
        pending = self._follow_logic()
        config = self._config
        customers = self.customers
        dirty = self._dirty
        for items in values:
            for item in items:
                if type(item) is BehaviorEvent:
                    state = customers.get(item.user_id) or self._returning(item.user_id)
                    if is_erased_past(state.erased_at_ms, item.event_time_ms):
                        self.erased_past += 1
                        continue
                    try:
                        p = step_event(state.customer, item, state.version + 1, config)
                    except Exception as error:
                        out.append(self._unprocessable(item, error))
                        continue
                    if p is None:
                        continue  # a duplicate delivery: no second decision
                    pending.append(p)
                    customers[item.user_id] = EnrichState(p.state, p.version, item, state.erased_at_ms)
                    dirty.add(item.user_id)
                elif type(item) is OrderFact:
                    state = customers.get(item.customer_id) or self._returning(item.customer_id)
                    if is_erased_past(state.erased_at_ms, item.order_time_ms):
                        self.erased_past += 1
                        continue
                    profile = self._profile(item.customer_id)
                    as_of = None if profile is None else profile.rfm_as_of
                    try:
                        customer = step_order(state.customer, item, as_of)
                    except Exception as error:
                        out.append(self._unprocessable(item, error))
                        continue
                    if customer is not state.customer:
                        customers[item.customer_id] = msgspec.structs.replace(state, customer=customer)
                        dirty.add(item.customer_id)
                elif type(item) is ErasureRequest:
                    # The customer's decisions so far go out first: the sink deletes them after.
                    self._decide(pending, out)
                    pending = []
                    self._erase(item, out)
                else:
                    assert isinstance(item, InventoryRow)
                    # Decisions before the change see the stock as it was; the change then applies.
                    self._decide(pending, out)
                    pending = []
                    ctx.inventory.record_change(item)
                    if item.sellable <= 0:
                        self._decide(self._redecisions(item.sku_id), out)
        self._decide(pending, out)
        self._write_log()
        return ([out] if out else []), StatefulBatchLogic.RETAIN

    def on_notify(self) -> tuple[list[list[OutRecord]], bool]:
        self._ctx.snapshots.resumed()
        out: list[OutRecord] = []
        self._decide_waiting(out)
        self._decide(self._follow_logic(), out)
        self._write_log()
        return ([out] if out else []), StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[list[list[OutRecord]], bool]:
        # The input ended (tests, a bounded replay): decide what waits, reading synchronously.
        out: list[OutRecord] = []
        waiting, self.waiting = self.waiting, []
        if waiting:
            self._decide_with([p for p, _ in waiting], _skus_of_all(waiting), out)
        return ([out] if out else []), StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime | None:
        return datetime.now(UTC) + (self.WAIT_POLL if self.waiting else self.LOGIC_POLL)

    def _follow_logic(self) -> list[PendingDecision]:
        """The re-decisions a newly active logic version asks for (none when it did not change)."""
        self._logic.maybe_refresh()
        if self._logic.current() is self._config:
            return []
        # A release made another logic version active (``persona logic merge``): every customer the
        # shard holds is decided again on their last event, so main's rows turn to it at once.
        return self._relogic(self._logic.current())

    def snapshot(self) -> ShardSnapshot:
        started = time.perf_counter()
        waiting = [p for p, _ in self.waiting]
        self._write_log(everything=True)
        if self._log is None:
            snap = ShardSnapshot.of(self._shards, self.customers, self.offered, waiting)
        else:
            snap = ShardSnapshot.of(self._shards, {}, {}, waiting, self._log.seal())
        ended = time.perf_counter()
        self._ctx.snapshots.taken(started, ended, len(snap.state))
        self._ctx.instruments.snapshot_taken(ended - started)
        self.snapshot_bytes = len(snap.state)
        # Every customer is in the log now (written above): those over the bound can leave memory.
        self._evict()
        return snap

    def _returning(self, customer_id: int) -> EnrichState:
        """A customer not in memory: back from disk if it was evicted, else a new one (``EMPTY``)."""
        evicted = self._evicted
        if evicted is None or not evicted.count:
            return EMPTY
        raw = evicted.take(customer_id)
        if raw is None:
            return EMPTY
        state, offer = decode_record(raw)
        self.customers[customer_id] = state
        if offer:
            record_offer(self.offered, self.offered_to, customer_id, offer)
        self.returns += 1
        return state

    def _evict(self) -> None:
        """Move the least recently active customers (by their last event's time; order-only ones
        first) to disk until the shard holds 90% of its bound: a margin, so the scan runs once per
        tenth of the bound of new customers, not at every snapshot. Customers with a decision waiting
        for stock stay. Only customers already written to the customer log may go (not ``_dirty``)."""
        evicted = self._evicted
        customers = self.customers
        if evicted is None or len(customers) <= self._max_customers:
            return
        keep = int(self._max_customers * 0.9)
        held = {p.event.user_id for p, _ in self.waiting} | self._dirty

        def last_active(customer_id: int) -> int:
            last = customers[customer_id].last_event
            return -1 if last is None else last.event_time_ms

        candidates = [c for c in customers if c not in held]
        leaving = heapq.nsmallest(len(customers) - keep, candidates, key=last_active)
        offered, offered_to = self.offered, self.offered_to
        rows = []
        for customer_id in leaving:
            offer = offered.get(customer_id, ())
            rows.append((customer_id, encode_record(customers.pop(customer_id), offer), offer))
            if offer:
                record_offer(offered, offered_to, customer_id, ())
        evicted.put(rows)
        self.evictions += len(rows)
        log.info(
            kv(
                event="customers_evicted",
                evicted=len(rows),
                held=len(customers),
                on_disk=evicted.count,
                returned=self.returns,
            )
        )

    def _write_log(self, everything: bool = False) -> None:
        dirty = self._dirty
        if not dirty or (len(dirty) < self.LOG_CHUNK and not everything):
            return
        if self._log is None:
            dirty.clear()  # without a log, the snapshot holds every customer: none to write
            return
        ids = list(dirty)
        self._log.append(shard_of(ids[0], self._shards), ids, log_records(ids, self.customers, self.offered))
        dirty.clear()

    def _redecisions(self, sku_id: str) -> list[PendingDecision]:
        """The customers offered ``sku_id`` (now unsellable), decided again on their last event."""
        pending: list[PendingDecision] = []
        if self._evicted is not None and self._evicted.count:
            # Evicted customers offered the SKU come back first, so they are re-decided too.
            for customer_id in self._evicted.offered(self._config.recommendation_prefix + sku_id):
                self._returning(customer_id)
        for customer_id in take_offered(self.offered_to, sku_id, self._config):
            again = self._decide_again(customer_id, self.customers[customer_id], "redecide")
            if again is not None:
                pending.append(again)
        return pending

    def _decide_again(self, customer_id: int, state: EnrichState, why: str) -> PendingDecision | None:
        """The customer decided again on their last event (None: they have none), under a new version.
        Same inputs as the last decision; the audit row gets its own id (``<event>~<why>-<version>``) so
        the original decision's row stays; the state is not observed again."""
        last = state.last_event
        if last is None:
            return None
        version = state.version + 1
        again = msgspec.structs.replace(last, event_id=f"{last.event_id}~{why}-{version}")
        self.customers[customer_id] = msgspec.structs.replace(state, version=version)
        self._dirty.add(customer_id)
        return PendingDecision(again, state.customer, version, None)

    def _relogic(self, config: LogicConfig) -> list[PendingDecision]:
        """Switch to ``config`` and re-decide, with it, each customer held in memory on their last event
        (as an inventory re-decision does; the audit row gets its own id). Evicted customers get the
        new version at their next event."""
        before, self._config = self._config.logic_version, config
        pending: list[PendingDecision] = []
        for customer_id, state in self.customers.items():
            again = self._decide_again(customer_id, state, config.logic_version)
            if again is not None:
                pending.append(again)
        log.info(
            kv(
                event="logic_version_changed",
                before=before,
                after=config.logic_version,
                redecided=len(pending),
            )
        )
        return pending

    def _erase(self, request: ErasureRequest, out: list[OutRecord]) -> None:
        """Forget the customer: its state (in memory, evicted on disk, in the customer log at its next
        write), its offer and its decisions still waiting for stock; keep only its version counter and
        the erasure's instant. Then a tombstone for its key on ``marketing_segments_rt`` and the request
        relayed to the sink on ``segment_decisions``, each after the customer's earlier records there."""
        customer_id = request.customer_id
        state = self.customers.get(customer_id) or self._returning(customer_id)
        record_offer(self.offered, self.offered_to, customer_id, ())
        if self.waiting:
            self.waiting = [entry for entry in self.waiting if entry[0].event.user_id != customer_id]
        erased_at = max(request.requested_at_ms, state.erased_at_ms or 0)
        self._erasures = True
        self.customers[customer_id] = EnrichState(version=state.version, erased_at_ms=erased_at)
        self._dirty.add(customer_id)
        out.append((self._rt_topic, str(customer_id).encode(), None))
        shard_key = shard_of(customer_id, self._shards).encode()
        out.append((self._decisions_topic, shard_key, erasure_to_json(request)))
        log.info(kv(event="customer_erased", erasure_id=request.erasure_id, erased_at_ms=erased_at))

    def _profile(self, customer_id: int) -> CustomerProfile | None:
        """The customer's profile, unless it is of the erased past (``profile_is_erased_past``): the
        profile store holds a deleted row until its next refresh, and the nightly job recomputes a
        customer the CRM still holds."""
        profile = self._ctx.profiles.get(customer_id)
        if profile is None or not self._erasures:
            return profile
        state = self.customers.get(customer_id)
        if state is not None and profile_is_erased_past(state.erased_at_ms, profile.rfm_as_of):
            return None
        return profile

    def _skus_of(self, p: PendingDecision) -> tuple[str, ...]:
        return candidate_skus(p.state, p.event, self._config, p.recent)

    def _decide(self, pending: list[PendingDecision], out: list[OutRecord]) -> None:
        """Decide ``pending`` now, but for what needs a SKU being read or follows a waiting decision."""
        if not pending:
            return
        candidates = [self._skus_of(p) for p in pending]
        skus = set().union(*candidates)
        waiting = self.waiting
        if waiting:
            skus |= _skus_of_all(waiting)
        unready = self._ctx.inventory.prefetch(skus)
        if not unready:
            # Everything is at hand (the reads of what waited are in): all of it, in order, at once.
            if waiting:
                self.waiting = []
                pending = [p for p, _ in waiting] + pending
            self._decide_with(pending, skus, out)
            return
        # (decision, candidates) pairs only here: the fast path above allocates none per decision.
        self._split(waiting, list(zip(pending, candidates, strict=True)), unready, out)

    def _decide_waiting(self, out: list[OutRecord]) -> None:
        if self.waiting:
            waiting = self.waiting
            skus = _skus_of_all(waiting)
            unready = self._ctx.inventory.prefetch(skus)
            self.waiting = []
            if unready:
                self._split(waiting, [], unready, out)
            else:
                self._decide_with([p for p, _ in waiting], skus, out)

    def _split(self, waiting: Waiting, new: Waiting, unready: set[str], out: list[OutRecord]) -> None:
        """Decide, in order, every decision whose SKUs are at hand and whose customer has no earlier
        decision still waiting; the others (in order) become ``self.waiting``."""
        ready: list[PendingDecision] = []
        ready_skus: set[str] = set()
        still: Waiting = []
        held: set[int] = set()  # customers with a decision still waiting
        for entry in (*waiting, *new):
            p, candidates = entry
            customer_id = p.event.user_id
            if customer_id in held or not unready.isdisjoint(candidates):
                held.add(customer_id)
                still.append(entry)
            else:
                ready.append(p)
                ready_skus.update(candidates)
        self.waiting = still
        if ready:
            self._decide_with(ready, ready_skus, out)

    def _decide_with(self, pending: list[PendingDecision], skus: set[str], out: list[OutRecord]) -> None:
        ctx = self._ctx
        config = self._config
        # One lookup for every candidate of the batch (cache misses, if any left, read together).
        stock = ctx.inventory.sellable(skus)
        now_ms = int(ctx.clock() * 1000)
        profile_of = self._profile if self._erasures else ctx.profiles.get
        offered = self.offered
        offered_to = self.offered_to
        dirty = self._dirty
        rt_topic = self._rt_topic
        envelopes: list[DecisionEnvelope] = []
        for p in pending:
            event = p.event
            customer_id = event.user_id
            try:
                decision, audit = decide(
                    event, profile_of(customer_id), p.state, stock, config, now_ms, p.recent
                )
                rt_value = decision_to_json(decision, p.version)
            except Exception as error:
                # Its version stays handed out: rt consumers see a gap, never a repeat.
                out.append(self._unprocessable(event, error))
                continue
            envelopes.append(DecisionEnvelope(p.version, audit))
            # The decision is on marketing_segments_rt as soon as it is made (DESIGN §5).
            out.append((rt_topic, str(customer_id).encode(), rt_value))
            if record_offer(offered, offered_to, customer_id, decision.recommendation):
                dirty.add(customer_id)
        if not envelopes:
            return
        # With their audit, for the sink's Paimon commits: columns built once, keyed by the shard (every
        # customer here has it) so a customer's decisions stay in order.
        key = shard_of(envelopes[0].audit.customer_id, self._shards).encode()
        messages = list(encode_decisions(envelopes))
        out.extend((self._decisions_topic, key, message) for message in messages)
        instruments = ctx.instruments
        if instruments.enabled:
            instruments.decided([e.audit for e in envelopes], now_ms)
            instruments.common.events_out({rt_topic: len(envelopes), self._decisions_topic: len(messages)})

    def _unprocessable(self, item: BehaviorEvent | OrderFact, error: Exception) -> OutRecord:
        """The dead letter of a record whose processing raised: the record as its topic carries it."""
        self.unprocessable += 1
        reason = f"unprocessable: {type(error).__name__}: {error}"
        if isinstance(item, BehaviorEvent):
            topic, kind, customer_id = self._topics.behavior_events, "behavior_event", item.user_id
            raw = behavior_event_to_json(item)
        else:
            topic, kind, customer_id = self._topics.order_facts, "order_fact", item.customer_id
            raw = order_fact_to_debezium_json(item)
        # The first few in full (with the traceback), then one line in a thousand: a bug that hits
        # every record must not turn the log into the dead-letter topic.
        if self.unprocessable <= 10 or self.unprocessable % 1000 == 0:
            log.warning(
                kv(
                    event="record_unprocessable",
                    kind=kind,
                    customer_id=customer_id,
                    total=self.unprocessable,
                    reason=reason,
                    effect="dead-lettered; the flow goes on",
                ),
                exc_info=self.unprocessable <= 10,
            )
        self._ctx.instruments.common.dead_letters(topic, {"unprocessable": 1})
        return dead_letter(topic, str(customer_id).encode(), raw, f"{kind}: {reason}")


def _skus_of_all(waiting: Waiting) -> set[str]:
    """Every candidate SKU of the waiting decisions."""
    return set().union(*(skus for _, skus in waiting))
