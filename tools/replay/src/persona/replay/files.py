"""Replay / backtest: run the v1 decision over JSON-lines files, with the streaming flow's per-customer
step (``persona.decisions.step``).

Inputs: behavior events (as on `behavior_events`), Debezium order envelopes (as on `orders_cdc`),
`customer_profile` rows and inventory rows, one JSON document per line. Profiles and inventory are fixed
for the run; events and order changes are merged into one stream by time — event_time for events, ts_ms
for order changes, order changes first on ties (an order committed at the same instant as a view is
already known to the system), file order otherwise (stable sort). Invalid lines go to the DLQ file with the
reason and never stop the run. Blank lines are skipped silently (a trailing newline is not bad input).

The input rules are the stream's (README "Input rules and identities"): the same parsers and the same
plausibility window, with "now" the wall clock when the replay starts (``now_ms``), so a replay of
history accepts every time up to a day from today, and drops what the streaming flows drop. An order
moved to another customer is retracted from the old one (``parse_order_changes``, as in the cdc flow).
An event's identity is (user_id, event_id): a repeated id is dropped by the per-customer step
(``step_event``, within its ``seen`` bound), exactly as the enrich flow drops it, and the same id for
two customers is two events, both decided.

Output: one JSON line per decision in processing order. ``updated_at`` is the event time, not the wall
clock, so a replay is byte-for-byte reproducible and two logic versions can be diffed line by line.

The inputs are held in memory and sorted (fine for backtests of millions of events on one machine).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any, Final, TypeVar

import msgspec

from persona.contracts import (
    DEFAULT_TIME_WINDOW,
    BehaviorEvent,
    CustomerProfile,
    Decision,
    DecisionAudit,
    Err,
    InventoryRow,
    OrderFact,
    ParseResult,
    TimeWindow,
    decision_audit_to_json,
    dlq_record_to_json,
    ms_to_iso,
    parse_behavior_event,
    parse_customer_profile,
    parse_inventory_row,
    parse_order_changes,
)
from persona.decisions import (
    DEFAULT_CONFIG,
    EMPTY_STATE,
    CustomerState,
    LogicV1Config,
    decide,
    step_event,
    step_order,
)

# Topic names for DLQ records: the topic (or table) each input file stands for.
TOPIC_EVENTS: Final = "behavior_events"
TOPIC_ORDERS: Final = "orders_cdc"
TOPIC_PROFILES: Final = "customer_profile"
TOPIC_INVENTORY: Final = "inventory_projection"

log = logging.getLogger(__name__)

_ORDER, _EVENT = 0, 1  # sort rank: order changes before events at the same instant

T = TypeVar("T")


@dataclass
class ReplayStats:
    events_read: int = 0  # non-blank lines of the events file
    events_valid: int = 0
    events_duplicate: int = 0
    orders_read: int = 0
    orders_valid: int = 0
    profiles_loaded: int = 0
    inventory_loaded: int = 0
    decisions: int = 0
    dlq: int = 0
    dlq_by_topic: dict[str, int] = field(default_factory=dict)
    first_dlq_reasons: list[str] = field(default_factory=list)  # a few distinct reasons, for the summary
    elapsed_seconds: float = 0.0

    def summary(self) -> str:
        rate = self.events_read / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0
        return (
            f"events read {self.events_read}, decisions {self.decisions}, "
            f"duplicates {self.events_duplicate}, orders {self.orders_valid}/{self.orders_read}, "
            f"dlq {self.dlq}, elapsed {self.elapsed_seconds:.3f}s ({rate:,.0f} events/s)"
        )


class _Dlq:
    """Dead-letter sink: a JSON-lines file, or just counts when there is no file."""

    _SAMPLES = 5

    def __init__(self, out: IO[bytes] | None, stats: ReplayStats) -> None:
        self._out = out
        self._stats = stats

    def put(self, topic: str, err: Err) -> None:
        self._stats.dlq += 1
        self._stats.dlq_by_topic[topic] = self._stats.dlq_by_topic.get(topic, 0) + 1
        sample = f"{topic}: {err.reason}"
        samples = self._stats.first_dlq_reasons
        if len(samples) < self._SAMPLES and sample not in samples:
            samples.append(sample)
        if self._out is not None:
            self._out.write(dlq_record_to_json(topic, err.reason, err.raw, int(time.time() * 1000)) + b"\n")


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        for line in f:
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield line


def _parse_file(path: Path, parse: Callable[[bytes], ParseResult[T]], topic: str, dlq: _Dlq) -> Iterator[T]:
    for line in _lines(path):
        result = parse(line)
        if isinstance(result, Err):
            dlq.put(topic, result)
        else:
            yield result.value


def decision_line(decision: Decision, audit: DecisionAudit) -> dict[str, Any]:
    """One replay output line: the decision row keyed by event, with the rule and effective RFM."""
    return {
        "event_id": audit.event_id,
        "customer_id": decision.customer_id,
        "segment": decision.segment,
        "recommendation": list(decision.recommendation),
        "score": decision.score,
        "event_time": ms_to_iso(decision.event_time_ms),
        "updated_at": ms_to_iso(decision.updated_at_ms),
        "logic_version": decision.logic_version,
        "rule": audit.rule,
        "recency": audit.recency,
        "frequency": audit.frequency,
        "monetary": None if audit.monetary is None else format(audit.monetary, "f"),
    }


def run_replay(
    events_path: str | Path,
    orders_path: str | Path,
    profiles_path: str | Path,
    inventory_path: str | Path,
    out_path: str | Path,
    dlq_path: str | Path | None = None,
    config: LogicV1Config = DEFAULT_CONFIG,
    *,
    audit_path: str | Path | None = None,
    profile_snapshot: str | None = None,
    window: TimeWindow = DEFAULT_TIME_WINDOW,
    now_ms: int | None = None,
) -> ReplayStats:
    """Replay the inputs through ``decide``; write decisions (and optionally audits and DLQ records).

    Without ``dlq_path`` invalid lines are only counted, and a summary is logged (a warning). ``profile_snapshot``
    is recorded in each audit as the profile version used (default: ``file:<profiles file name>``).
    A customer's repeated event_id produces no decision within the per-customer bound of
    persona.decisions.state, as in the streaming flow; ``window`` and ``now_ms`` (default: the wall
    clock now) are the plausibility window of input times.
    """
    started = time.perf_counter()
    stats = ReplayStats()
    now = int(time.time() * 1000) if now_ms is None else now_ms
    snapshot = profile_snapshot if profile_snapshot is not None else f"file:{Path(profiles_path).name}"
    with ExitStack() as files:
        dlq = _Dlq(files.enter_context(Path(dlq_path).open("wb")) if dlq_path is not None else None, stats)
        profiles = _load_profiles(Path(profiles_path), snapshot, dlq, stats)
        inventory = _load_inventory(
            Path(inventory_path), partial(parse_inventory_row, window=window, now_ms=now), dlq, stats
        )
        stream = _merged_stream(Path(events_path), Path(orders_path), window, now, dlq, stats)
        audit_out = files.enter_context(Path(audit_path).open("wb")) if audit_path is not None else None
        out = files.enter_context(Path(out_path).open("wb"))
        _process(stream, profiles, inventory, config, out, audit_out, stats)
    stats.elapsed_seconds = time.perf_counter() - started
    if dlq_path is None and stats.dlq:
        by_topic = ", ".join(f"{t}: {n}" for t, n in sorted(stats.dlq_by_topic.items()))
        examples = "".join(f"\n  e.g. {reason}" for reason in stats.first_dlq_reasons)
        log.warning("%d invalid line(s) skipped (%s)%s", stats.dlq, by_topic, examples)
    return stats


def _load_profiles(path: Path, snapshot: str, dlq: _Dlq, stats: ReplayStats) -> dict[int, CustomerProfile]:
    profiles: dict[int, CustomerProfile] = {}
    for p in _parse_file(path, parse_customer_profile, TOPIC_PROFILES, dlq):
        # Last row wins for a repeated customer_id, as in a primary-key table.
        profiles[p.customer_id] = (
            p if p.snapshot is not None else msgspec.structs.replace(p, snapshot=snapshot)
        )
    stats.profiles_loaded = len(profiles)
    return profiles


def _load_inventory(
    path: Path, parse: Callable[[bytes], ParseResult[InventoryRow]], dlq: _Dlq, stats: ReplayStats
) -> dict[str, int]:
    latest: dict[str, tuple[int, int]] = {}  # sku -> (updated_at_ms, sellable)
    for row in _parse_file(path, parse, TOPIC_INVENTORY, dlq):
        updated = row.updated_at_ms if row.updated_at_ms is not None else -1
        prev = latest.get(row.sku_id)
        if prev is None or updated >= prev[0]:  # newest row per SKU; file order on ties
            latest[row.sku_id] = (updated, row.sellable)
    stats.inventory_loaded = len(latest)
    return {sku: sellable for sku, (_, sellable) in latest.items()}


def _merged_stream(
    events_path: Path, orders_path: Path, window: TimeWindow, now_ms: int, dlq: _Dlq, stats: ReplayStats
) -> list[tuple[int, int, int, BehaviorEvent | OrderFact]]:
    items: list[tuple[int, int, int, BehaviorEvent | OrderFact]] = []
    seq = 0
    for line in _lines(events_path):
        stats.events_read += 1
        result = parse_behavior_event(line, window, now_ms)
        if isinstance(result, Err):
            dlq.put(TOPIC_EVENTS, result)
            continue
        stats.events_valid += 1
        items.append((result.value.event_time_ms, _EVENT, seq, result.value))
        seq += 1
    for line in _lines(orders_path):
        stats.orders_read += 1
        facts = parse_order_changes(line, window, now_ms)
        if isinstance(facts, Err):
            dlq.put(TOPIC_ORDERS, facts)
            continue
        stats.orders_valid += 1
        # A moved order's retraction and its new row share ts_ms; seq keeps them in that order.
        for fact in facts.value:
            items.append((fact.ts_ms, _ORDER, seq, fact))
            seq += 1
    # (time, rank, seq) is unique per item, so the sort never compares the records themselves.
    items.sort(key=lambda item: (item[0], item[1], item[2]))
    return items


StreamItem = tuple[int, int, int, BehaviorEvent | OrderFact]
"""(time, rank, seq, record): events at event_time, order changes at ts_ms, order changes first on ties."""


def merge_stream(events: Iterable[BehaviorEvent], facts: Iterable[OrderFact]) -> list[StreamItem]:
    """Events and order changes as one stream in replay order (see the module); input order breaks ties."""
    items: list[StreamItem] = []
    seq = 0
    for fact in facts:
        items.append((fact.ts_ms, _ORDER, seq, fact))
        seq += 1
    for event in events:
        items.append((event.event_time_ms, _EVENT, seq, event))
        seq += 1
    items.sort(key=lambda item: (item[0], item[1], item[2]))
    return items


def decide_stream(
    stream: Iterable[StreamItem],
    profiles: Mapping[int, CustomerProfile],
    inventory: Mapping[str, int | None],
    config: LogicV1Config,
    stats: ReplayStats | None = None,
    *,
    since_ms: int | None = None,
) -> Iterator[tuple[int, Decision, DecisionAudit]]:
    """The replay's pure core: each decision of ``stream`` (sorted, ``merge_stream``) as (the
    customer's decision number in this replay, decision, audit), with the enrich flow's per-customer
    step. ``updated_at`` is the event time. With ``since_ms``, events before it only build the
    customers' state (recent SKUs, channels, orders): they are history the decisions since then see,
    not decisions of the replay."""
    states: dict[int, CustomerState] = {}
    numbers: dict[int, int] = {}
    for _, _, _, item in stream:
        if isinstance(item, OrderFact):
            # Every order kept (no pruning): see step_order.
            states[item.customer_id] = step_order(states.get(item.customer_id, EMPTY_STATE), item, None)
            continue
        pending = step_event(states.get(item.user_id, EMPTY_STATE), item, 0, config)
        if pending is None:
            if stats is not None:
                stats.events_duplicate += 1
            continue
        states[item.user_id] = pending.state
        if since_ms is not None and item.event_time_ms < since_ms:
            continue
        decision, audit = decide(
            item,
            profiles.get(item.user_id),
            pending.state,
            inventory,
            config,
            item.event_time_ms,
            pending.recent,
        )
        number = numbers[item.user_id] = numbers.get(item.user_id, 0) + 1
        if stats is not None:
            stats.decisions += 1
        yield number, decision, audit


def _process(
    stream: list[StreamItem],
    profiles: dict[int, CustomerProfile],
    inventory: dict[str, int],
    config: LogicV1Config,
    out: IO[bytes],
    audit_out: IO[bytes] | None,
    stats: ReplayStats,
) -> None:
    encode = msgspec.json.Encoder().encode
    for _, decision, audit in decide_stream(stream, profiles, inventory, config, stats):
        out.write(encode(decision_line(decision, audit)) + b"\n")
        if audit_out is not None:
            audit_out.write(decision_audit_to_json(audit) + b"\n")
