"""Wiring of the enrich flow; the decision itself is ``persona.decisions.decide``.

Items are batches, not records: the source hands over the records of one poll, ``route`` parses them
and splits them by customer shard (``customer_id % shards``), and one ``stateful_batch`` logic per
shard (``CustomerShard``) keeps its customers' state, decides, and returns every output record of the
batch as one item. The per-record work is persona's own (parse, state transition, ``decide``,
encode); Bytewax moves a few items per poll whatever the rate.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any, Protocol

import bytewax.operators as op
import msgspec
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.operators import StatefulBatchLogic
from bytewax.outputs import Sink

from persona.contracts import (
    BehaviorEvent,
    CustomerProfile,
    DecisionEnvelope,
    Err,
    InventoryRow,
    OrderFact,
    decision_to_json,
    encode_decisions,
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
    observe_event,
    prune_orders,
)
from persona.flows.common.process import GcTimer, prepare_flow_process
from persona.flows.common.wiring import batch_sink, raw_source
from persona.flows.enrich.customer_log import Compactor, CustomerLogError, LogRef, ShardLog, read_chunks
from persona.kafka.bytewax_io import OutRecord, RawBatch, dead_letter
from persona.settings import PipelineSettings


class Inventory(Protocol):
    def sellable(self, sku_ids: Iterable[str]) -> dict[str, int | None]: ...

    def prefetch(self, sku_ids: Iterable[str]) -> set[str]:
        """The SKUs ``sellable`` could not answer now without reading (their reads are started)."""
        ...

    def record_change(self, row: InventoryRow) -> None: ...


class Profiles(Protocol):
    def get(self, customer_id: int) -> CustomerProfile | None: ...

    def maybe_refresh(self) -> bool: ...


class EnrichState(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """Per customer: decision state, last version handed out, last decided event (re-decisions)."""

    customer: CustomerState = EMPTY_STATE
    version: int = 0
    last_event: BehaviorEvent | None = None


_EMPTY = EnrichState()


class Pending(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """An event ready to decide: the customer's state with this event observed, and its version.

    ``recent`` is that state's recent SKUs (this event's included), so ``decide`` need not rebuild it;
    None for a re-decision, whose state is not observed again.

    A struct built positionally (one per event; a NamedTuple's constructor runs Python code), encoded
    as an array in the snapshot like the NamedTuple it replaces. Untracked by the cyclic GC: it holds
    untracked structs, an int and a tuple of str.
    """

    event: BehaviorEvent
    state: CustomerState
    version: int
    recent: tuple[str, ...] | None


ShardItem = BehaviorEvent | OrderFact | InventoryRow
"""What a shard processes, in arrival order: inventory changes reach every shard."""


class _ShardState(msgspec.Struct, gc=False, array_like=True):
    customers: dict[int, EnrichState]
    # customer -> the recommendation of its newest decision ("sku:<id>" entries; absent: none)
    offered: dict[int, tuple[str, ...]]
    # events observed (their versions handed out) whose decision waits for inventory reads, in order
    waiting: list[Pending] = msgspec.field(default_factory=list)


_state_encoder = msgspec.msgpack.Encoder()
_state_decoder = msgspec.msgpack.Decoder(_ShardState)
# One chunk of a shard's customer log: customer ids, then their [state, offered] (customer_log.py).
_log_decoder = msgspec.msgpack.Decoder(tuple[list[int], list[tuple[EnrichState, tuple[str, ...]]]])

_FORMAT_ERROR = (
    "the recovery store holds enrich state in a format this version cannot read ({error}); it was "
    "written by another persona version. Resume with that version, or remove the enrich flow's "
    "recovery directory to start it without state"
)


@dataclass(frozen=True)
class ShardSnapshot:
    """What Bytewax recovery stores per shard.

    With a customer log (``PERSONA_ENRICH_STATE_DIR``, which ``persona demo``/``bench`` and the
    runner set), ``log`` names the files that hold the shard's customers and ``state`` holds only the
    decisions waiting for inventory reads: a snapshot costs what changed since the last one, written
    while it changed (``customer_log``). Without one, ``state`` holds every customer, msgpack-encoded
    once at the snapshot (msgspec encodes a shard ~15x faster than pickle walks it, and Bytewax then
    pickles one ``bytes``). The per-SKU index is derived from ``offered`` on restore.
    """

    shards: int
    state: bytes
    log: LogRef | None = None

    @classmethod
    def of(
        cls,
        shards: int,
        customers: dict[int, EnrichState],
        offered: dict[int, tuple[str, ...]],
        waiting: list[Pending],
        log: LogRef | None = None,
    ) -> ShardSnapshot:
        return cls(shards, _state_encoder.encode(_ShardState(customers, offered, waiting)), log)

    def decode(self) -> _ShardState:
        try:
            return _state_decoder.decode(self.state)
        except msgspec.ValidationError as error:
            raise RuntimeError(_FORMAT_ERROR.format(error=error)) from error


def load_customer_log(
    paths: list[Path], customers: dict[int, EnrichState], offered: dict[int, tuple[str, ...]]
) -> None:
    """Replay a shard's files, oldest first, into ``customers`` and ``offered``."""
    for path in paths:
        for chunk in read_chunks(path):
            try:
                ids, records = _log_decoder.decode(chunk)
            except msgspec.ValidationError as error:
                raise RuntimeError(_FORMAT_ERROR.format(error=f"{path}: {error}")) from error
            except msgspec.DecodeError as error:
                raise CustomerLogError(f"{path} holds a damaged chunk: {error}") from error
            for customer_id, (state, recommendation) in zip(ids, records, strict=True):
                customers[customer_id] = state
                if recommendation:
                    offered[customer_id] = recommendation
                else:
                    offered.pop(customer_id, None)


def shard_of(customer_id: int, shards: int) -> str:
    return str(customer_id % shards)


@functools.cache
def _shard_names(shards: int) -> tuple[str, ...]:
    return tuple(str(i) for i in range(shards))


_PARSERS: dict[str, tuple[Callable[[bytes], Any], Callable[[Any], int] | None]] = {
    # Topics field -> (parser, the customer a parsed record belongs to; None: it goes to every shard)
    "behavior_events": (parse_behavior_event, attrgetter("user_id")),
    "order_facts": (parse_order_change, attrgetter("customer_id")),
    "inventory_changes": (parse_inventory_row, None),
}


def route(settings: PipelineSettings, batch: RawBatch) -> list[tuple[str, Any]]:
    """One polled batch -> ``(shard, [items])`` per shard it touches, and ``("dlq", [records])``.

    Order within a shard is the batch's order; an inventory change goes to every shard, because any
    shard may hold customers offered that SKU.
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
    for key, value in batch.records:
        result = parse(value or b"")
        if isinstance(result, Err):
            dlq.append(dead_letter(topic, key, value, result.reason))
        else:
            parsed.append(result.value)
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
        out.append(("dlq", dlq))
    return out


@dataclass
class EnrichContext:
    """What every shard of one process shares: settings, profiles, the inventory cache, a clock."""

    settings: PipelineSettings
    profiles: Profiles
    inventory: Inventory
    clock: Callable[[], float] = time.time
    # Where a line of inventory-cache statistics goes every ``report_seconds`` (the flow's log).
    report: Callable[[str], None] | None = None
    report_seconds: float = 10.0
    # The cyclic GC's time, reported with the cache line (its pauses hide in profiles).
    gc_timer: GcTimer | None = None
    # Merges the shards' customer logs in the background; its stats go into the log line.
    compactor: Compactor = field(default_factory=Compactor)
    # Shard snapshots encoded (their count, bytes and seconds), reported with the cache line: the
    # per-epoch pause that sets the rt p99 (BENCHMARKS.md).
    snapshots: int = 0
    snapshot_bytes: int = 0
    snapshot_seconds: float = 0.0
    # From the end of an epoch's last shard snapshot to the next batch or wake-up: what Bytewax does
    # with the snapshots (pickling them, writing its recovery store) stalls the flow that long.
    snapshot_ended_at: float | None = None
    after_snapshot_seconds: float = 0.0
    _reported_at: float = 0.0
    _last: tuple[float, ...] = ()
    _last_gc: tuple[float, ...] = ()
    _last_log: tuple[float, ...] = ()

    _REPORTED = (
        "hits",
        "misses",
        "reads",
        "read_seconds",
        "refreshes",
        "refreshed_skus",
        "deferrals",
        "loads",
        "loaded_skus",
        "load_errors",
    )

    def resumed(self) -> None:
        """A batch or wake-up: if snapshots came before it, time the stall since them."""
        if self.snapshot_ended_at is not None:
            self.after_snapshot_seconds += time.perf_counter() - self.snapshot_ended_at
            self.snapshot_ended_at = None

    def maybe_report(self) -> None:
        if self.report is None:
            return
        now = time.monotonic()
        if now - self._reported_at < self.report_seconds:
            return
        seconds = now - self._reported_at if self._reported_at else 0.0
        self._reported_at = now
        if self.gc_timer is not None:
            timer = self.gc_timer
            current_gc = (*timer.collections, *timer.seconds)
            g = [c - p for c, p in zip(current_gc, self._last_gc or (0,) * 6, strict=True)]
            self._last_gc = current_gc
            if seconds:
                self.report(
                    f"cyclic GC, last {seconds:.0f}s: {sum(g[3:]) / seconds:.1%} of the time; collections "
                    f"by generation {g[0]:.0f}/{g[1]:.0f}/{g[2]:.0f}, "
                    f"{g[3] * 1000:.0f}/{g[4] * 1000:.0f}/{g[5] * 1000:.0f} ms"
                )
        if self.snapshots:
            self.report(
                f"snapshots since the last line: {self.snapshots} shards, "
                f"{self.snapshot_bytes / 1e6:.1f} MB encoded in {self.snapshot_seconds * 1000:.0f} ms, "
                f"the flow resumed {self.after_snapshot_seconds * 1000:.0f} ms after them"
            )
            self.snapshots = self.snapshot_bytes = 0
            self.snapshot_seconds = self.after_snapshot_seconds = 0.0
        log = self.compactor.stats
        current_log = tuple(float(v) for v in dataclasses.astuple(log))
        if seconds and current_log != self._last_log:
            d = _since([f.name for f in dataclasses.fields(log)], current_log, self._last_log)
            self.report(
                f"customer log, last {seconds:.0f}s: {d['appended_records'] / seconds:,.0f} records/s appended "
                f"({d['appended_bytes'] / seconds / 1e6:.1f} MB/s, {d['append_seconds'] / seconds:.1%} of the time); "
                f"{d['seals']:.0f} seals in {d['seal_seconds'] * 1000:.0f} ms; {d['compactions']:.0f} merges "
                f"({d['compacted_bytes'] / 1e6:.0f} MB in {d['compaction_seconds'] * 1000:.0f} ms, "
                f"{d['compaction_errors']:.0f} failed)"
            )
        self._last_log = current_log
        stats = getattr(self.inventory, "stats", None)
        if stats is None:
            return
        current = tuple(float(getattr(stats, name, 0)) for name in self._REPORTED)
        d = _since(self._REPORTED, current, self._last)
        self._last = current
        looked_up = d["hits"] + d["misses"] + d["loaded_skus"]
        if seconds and looked_up:
            self.report(
                f"inventory cache, last {seconds:.0f}s: hit ratio {d['hits'] / looked_up:.1%}; "
                f"{d['deferrals'] / seconds:.1f} lookups/s set aside for {d['loads'] / seconds:.1f} background "
                f"reads/s ({d['loaded_skus'] / seconds:.0f} SKUs/s, {d['load_errors'] / seconds:.1f} failed); "
                f"{d['reads'] / seconds:.1f} blocking reads/s ({d['misses'] / seconds:.0f} SKUs/s, "
                f"{d['read_seconds'] / seconds:.1%} of the time); {d['refreshes'] / seconds:.1f} re-reads/s "
                f"({d['refreshed_skus'] / seconds:.0f} SKUs/s)"
            )


def _since(names: Iterable[str], current: tuple[float, ...], last: tuple[float, ...]) -> dict[str, float]:
    """Each counter's growth since ``last`` (empty: since zero), by name."""
    last = last or (0.0,) * len(current)
    return dict(zip(names, (c - p for c, p in zip(current, last, strict=True)), strict=True))


class CustomerShard(StatefulBatchLogic[list[ShardItem], list[OutRecord], ShardSnapshot]):
    """The customers of one shard: their state, and which of them are offered which SKU.

    Per batch: order facts update a customer's orders; each new event (duplicates dropped) gets the
    customer's next version; then every pending event is decided with one inventory lookup for all
    their candidate SKUs. An inventory change that makes a SKU unsellable re-decides, in place, every
    customer of the shard whose current recommendation holds it (DESIGN §5).

    The shard never blocks on Cassandra: a decision that needs a SKU the cache does not hold waits
    in ``waiting`` while that SKU is read in the background, and is decided at a later activation
    (``WAIT_POLL`` apart at most) once it is in. The rest of the batch is decided at once, except a
    waiting customer's later decisions, which wait behind it so its versions stay in order. The
    waiting decisions are part of the snapshot, so a crash loses none.
    """

    WAIT_POLL = timedelta(milliseconds=5)

    def __init__(self, ctx: EnrichContext, resume: ShardSnapshot | None) -> None:
        self._ctx = ctx
        self._config = ctx.settings.logic
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
        self.customers: dict[int, EnrichState] = {}
        self.offered: dict[int, tuple[str, ...]] = {}
        # decisions waiting for inventory reads, oldest first, with their candidate SKUs
        self.waiting: list[tuple[Pending, tuple[str, ...]]] = []
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
        # recommendation entry ("sku:<id>") -> customers of this shard whose newest decision holds it
        # The holders are dicts with None values, not sets: a dict of ints is never tracked by the cyclic
        # GC, while every set is, and at 1M customers these sets were a sixth of what each young
        # collection walked and, once old, what every full collection walked again.
        self.offered_to: dict[str, dict[int, None]] = {}
        for customer_id, recommendation in self.offered.items():
            for entry in recommendation:
                self.offered_to.setdefault(entry, {})[customer_id] = None

    def on_batch(self, values: list[list[ShardItem]]) -> tuple[list[list[OutRecord]], bool]:
        ctx = self._ctx
        ctx.resumed()
        ctx.profiles.maybe_refresh()
        ctx.maybe_report()
        config = self._config
        customers = self.customers
        dirty = self._dirty
        out: list[OutRecord] = []
        self._decide_waiting(out)
        pending: list[Pending] = []
        for items in values:
            for item in items:
                if type(item) is BehaviorEvent:
                    state = customers.get(item.user_id, _EMPTY)
                    observed = observe_event(state.customer, item, config)
                    if observed is state.customer:
                        continue  # a seen id, i.e. a duplicate delivery: no second decision
                    version = state.version + 1
                    pending.append(Pending(item, observed, version, observed.recent_skus))
                    customers[item.user_id] = EnrichState(observed, version, item)
                    dirty.add(item.user_id)
                elif type(item) is OrderFact:
                    state = customers.get(item.customer_id, _EMPTY)
                    customer = apply_order(state.customer, item)
                    profile = ctx.profiles.get(item.customer_id)
                    if profile is not None:
                        # Orders the nightly profile already includes can never count again.
                        customer = prune_orders(customer, profile.rfm_as_of)
                    if customer is not state.customer:
                        customers[item.customer_id] = EnrichState(customer, state.version, state.last_event)
                        dirty.add(item.customer_id)
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

    # Changed customers are written to the log in chunks of at least this many, and the rest at the
    # snapshot: large enough that a customer changed by several batches is mostly written once, small
    # enough that the snapshot's share stays a few milliseconds.
    LOG_CHUNK = 2048

    def _write_log(self, everything: bool = False) -> None:
        dirty = self._dirty
        if not dirty or (len(dirty) < self.LOG_CHUNK and not everything):
            return
        if self._log is None:
            dirty.clear()  # without a log, the snapshot holds every customer: none to write
            return
        customers, offered = self.customers, self.offered
        ids = list(dirty)
        self._log.append(
            shard_of(ids[0], self._shards), ids, [(customers[c], offered.get(c, ())) for c in ids]
        )
        dirty.clear()

    def _redecisions(self, sku_id: str) -> list[Pending]:
        """The customers offered ``sku_id`` (now unsellable), decided again on their last event."""
        pending: list[Pending] = []
        entry = self._config.recommendation_prefix + sku_id
        for customer_id in sorted(self.offered_to.pop(entry, ())):
            state = self.customers[customer_id]
            last = state.last_event
            if last is None:
                continue
            version = state.version + 1
            # Same inputs as the last decision, fresh stock. The audit row gets its own id so the
            # original decision's row stays; the state is not observed again.
            again = msgspec.structs.replace(last, event_id=f"{last.event_id}~redecide-{version}")
            self.customers[customer_id] = EnrichState(state.customer, version, last)
            self._dirty.add(customer_id)
            pending.append(Pending(again, state.customer, version, None))
        return pending

    def on_notify(self) -> tuple[list[list[OutRecord]], bool]:
        self._ctx.resumed()
        out: list[OutRecord] = []
        self._decide_waiting(out)
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
        return datetime.now(UTC) + self.WAIT_POLL if self.waiting else None

    def _skus_of(self, p: Pending) -> tuple[str, ...]:
        return candidate_skus(p.state, p.event, self._config, p.recent)

    def _decide(self, pending: list[Pending], out: list[OutRecord]) -> None:
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

    def _split(
        self,
        waiting: list[tuple[Pending, tuple[str, ...]]],
        new: list[tuple[Pending, tuple[str, ...]]],
        unready: set[str],
        out: list[OutRecord],
    ) -> None:
        """Decide, in order, every decision whose SKUs are at hand and whose customer has no earlier
        decision still waiting; the others (in order) become ``self.waiting``."""
        ready: list[Pending] = []
        ready_skus: set[str] = set()
        still: list[tuple[Pending, tuple[str, ...]]] = []
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

    def _decide_with(self, pending: list[Pending], skus: set[str], out: list[OutRecord]) -> None:
        ctx = self._ctx
        config = self._config
        # One lookup for every candidate of the batch (cache misses, if any left, read together).
        stock = ctx.inventory.sellable(skus)
        now_ms = int(ctx.clock() * 1000)
        profiles = ctx.profiles
        offered = self.offered
        offered_to = self.offered_to
        rt_topic = self._rt_topic
        envelopes: list[DecisionEnvelope] = []
        for p in pending:
            event = p.event
            customer_id = event.user_id
            decision, audit = decide(
                event, profiles.get(customer_id), p.state, stock, config, now_ms, p.recent
            )
            envelopes.append(DecisionEnvelope(p.version, audit))
            # The decision is on marketing_segments_rt as soon as it is made (DESIGN §5).
            out.append((rt_topic, str(customer_id).encode(), decision_to_json(decision, p.version)))
            now = decision.recommendation
            before = offered.get(customer_id, ())
            if now == before:
                continue
            for entry in before:
                if entry not in now:
                    holders = offered_to.get(entry)
                    if holders is not None:
                        holders.pop(customer_id, None)
                        if not holders:
                            del offered_to[entry]
            for entry in now:
                if entry not in before:
                    holders = offered_to.get(entry)
                    if holders is None:
                        offered_to[entry] = {customer_id: None}
                    else:
                        holders[customer_id] = None
            if now:
                offered[customer_id] = now
            else:
                del offered[customer_id]
            self._dirty.add(customer_id)
        # With their audit, for the sink's Paimon commits: columns built once, keyed by the shard (every
        # customer here has it) so a customer's decisions stay in order.
        key = shard_of(envelopes[0].audit.customer_id, ctx.settings.enrich_shards).encode()
        out.extend((self._decisions_topic, key, message) for message in encode_decisions(envelopes))

    def snapshot(self) -> ShardSnapshot:
        ctx = self._ctx
        started = time.perf_counter()
        waiting = [p for p, _ in self.waiting]
        self._write_log(everything=True)
        if self._log is None:
            snap = ShardSnapshot.of(self._shards, self.customers, self.offered, waiting)
        else:
            snap = ShardSnapshot.of(self._shards, {}, {}, waiting, self._log.seal())
        ended = time.perf_counter()
        ctx.snapshot_seconds += ended - started
        ctx.snapshot_ended_at = ended
        ctx.snapshot_bytes += len(snap.state)
        ctx.snapshots += 1
        return snap


def _skus_of_all(waiting: list[tuple[Pending, tuple[str, ...]]]) -> set[str]:
    """Every candidate SKU of the waiting decisions."""
    return set().union(*(skus for _, skus in waiting))


def _log(line: str) -> None:
    print(f"[enrich {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


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
        from persona.paimon.profiles import PaimonProfileStore

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
    ctx = EnrichContext(
        settings,
        profiles,
        inventory,
        clock,
        report=_log if source is None else None,
        gc_timer=GcTimer().install() if source is None else None,
    )
    topics = settings.topics
    flow = Dataflow("persona_enrich")
    inputs = [topics.behavior_events, topics.order_facts, topics.inventory_changes]
    # Step ids are part of the recovery contract: every flow's Kafka input is "in".
    batches = op.input("in", flow, source or raw_source(settings, inputs, "enrich"))
    routed = op.flat_map("route", batches, lambda batch: route(settings, batch))
    split = op.branch("split_dlq", routed, lambda item: item[0] == "dlq")
    decided = op.stateful_batch("customers", split.falses, lambda resume: CustomerShard(ctx, resume))
    op.output("out", op.merge("all", decided, split.trues), sink or batch_sink(settings))
    if source is None:
        prepare_flow_process()
    return flow
