"""The enrich flow's own metrics (beside ``persona.flows.common.metrics``'s): decisions by segment and
logic version, recommendations suppressed for stock, the inventory cache and its Cassandra reads,
customer state, snapshot and restore durations.

Counts are made per batch from what the shard already holds (the decisions' audits); the decision core
(``persona.decisions``) knows nothing of metrics. Cache counters and state size are read when
Prometheus scrapes (observable instruments), so the hot path does nothing for them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry.metrics import CallbackOptions, Observation

from persona.contracts import DecisionAudit
from persona.flows.common.metrics import CumulativeCounter, FlowMetrics
from persona.inventory import InventoryReadError
from persona.inventory.protocol import InventoryReader, RefreshCallback, StockLevel

if TYPE_CHECKING:
    from persona.flows.enrich.shard import CustomerShard


_SEGMENT_AND_VERSION = attrgetter("segment", "logic_version")
_CANDIDATES = attrgetter("candidates")
_RECOMMENDATION = attrgetter("recommendation")


def decision_counts(audits: Sequence[DecisionAudit]) -> tuple[Counter[tuple[str, str]], int]:
    """Decisions by ``(segment, logic_version)``, and the recommendation candidates left out for stock.

    A candidate the decision examined is recommended exactly when its sellable quantity is known and
    positive (``persona.decisions``: unknown stock is never promoted), so those left out are the
    examined ones minus the recommended ones. Counted with C-level ``map``/``Counter`` (no Python
    bytecode per decision): this runs on every batch of the enrich flow.
    """
    counts = Counter(map(_SEGMENT_AND_VERSION, audits))
    examined = sum(map(len, map(_CANDIDATES, audits)))
    return counts, examined - sum(map(len, map(_RECOMMENDATION, audits)))


class CacheCounters(Protocol):
    hits: int
    misses: int
    reads: int
    loads: int
    loaded_skus: int
    refreshes: int


class EnrichMetrics:
    """The enrich flow's instruments; inert when ``metrics`` is (metrics off, a flow under test)."""

    def __init__(self, metrics: FlowMetrics) -> None:
        self.common = metrics
        self.enabled = metrics.enabled
        self.shards: list[CustomerShard] = []
        self.cache: CacheCounters | None = None
        meter = metrics.meter
        if meter is None:
            return
        self._decisions = CumulativeCounter(
            meter,
            "persona_decisions_total",
            description="segment decisions made, by segment and logic version",
        )
        self._suppressed = CumulativeCounter(
            meter,
            "persona_recommendations_suppressed_total",
            description="recommendation candidates left out for stock (not sellable, or stock unknown)",
        )
        self._snapshot = meter.create_histogram(
            "persona_snapshot_duration_seconds", unit="s", description="encoding one shard's snapshot"
        )
        self._restore = meter.create_histogram(
            "persona_restore_duration_seconds", unit="s", description="restoring one shard from its snapshot"
        )
        self.read_seconds = meter.create_histogram(
            "persona_cassandra_read_seconds", unit="s", description="successful Cassandra inventory reads"
        )
        self.read_errors = meter.create_counter(
            "persona_cassandra_read_errors_total", description="failed Cassandra inventory reads"
        )
        self.read_errors.add(0, metrics.attrs())  # a series from the start, so its first failure shows
        attrs = metrics.attrs()
        meter.create_observable_gauge(
            "persona_enrich_state_customers",
            [self._observe(lambda: sum(len(s.customers) for s in self.shards))],
            description="customers held in memory by the enrich shards",
        )
        meter.create_observable_gauge(
            "persona_enrich_waiting_decisions",
            [self._observe(lambda: sum(len(s.waiting) for s in self.shards))],
            description="decisions waiting for inventory reads from Cassandra (made when the reads land)",
        )
        meter.create_observable_gauge(
            "persona_enrich_state_bytes",
            [self._observe(lambda: sum(s.snapshot_bytes for s in self.shards))],
            description="size of the shards' last snapshots",
        )
        for name, counter, doc in (
            ("persona_inventory_cache_hits_total", lambda c: c.hits, "SKU lookups the cache answered"),
            (
                "persona_inventory_cache_misses_total",
                lambda c: c.misses + c.loaded_skus,
                "SKU lookups the cache could not answer (read from Cassandra)",
            ),
            (
                "persona_inventory_cache_reads_total",
                lambda c: c.reads + c.loads + c.refreshes,
                "Cassandra reads the cache sent (blocking, background and refresh-ahead)",
            ),
        ):
            meter.create_observable_counter(name, [self._observe_cache(counter, attrs)], description=doc)

    def _observe(self, read: Callable[[], float]) -> Callable[[CallbackOptions], Iterable[Observation]]:
        attrs = self.common.attrs()

        def callback(options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(read(), attrs)]

        return callback

    def _observe_cache(
        self, read: Callable[[CacheCounters], int], attrs: dict[str, str]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            return [] if self.cache is None else [Observation(read(self.cache), attrs)]

        return callback

    def decided(self, audits: Sequence[DecisionAudit], now_ms: int) -> None:
        """One batch of decisions, made at ``now_ms``."""
        if not self.enabled or not audits:
            return
        common = self.common
        # Only the sampled decisions' event times are read (``FlowMetrics.freshness``).
        sampled = common.freshness_sample("rt").take(audits)
        common.record_freshness("rt", now_ms, [a.event_time_ms for a in sampled])
        counts, suppressed = decision_counts(audits)
        for (segment, logic_version), count in counts.items():
            self._decisions.add(count, common.attrs(segment=segment, logic_version=logic_version))
        if suppressed:
            self._suppressed.add(suppressed, common.attrs())

    def snapshot_taken(self, seconds: float) -> None:
        if self.enabled:
            self._snapshot.record(seconds, self.common.attrs())

    def restored(self, seconds: float) -> None:
        if self.enabled:
            self._restore.record(seconds, self.common.attrs())


class TimedReader:
    """An ``InventoryReader`` that times its successful reads and counts its failed ones."""

    def __init__(self, reader: Any, metrics: EnrichMetrics) -> None:
        self._reader: InventoryReader = reader
        self._metrics = metrics
        self._attrs = metrics.common.attrs()
        if hasattr(reader, "read_many_async"):
            self.read_many_async = self._read_many_async

    def read_many(self, sku_ids: Collection[str]) -> Mapping[str, StockLevel]:
        started = time.perf_counter()
        try:
            rows = self._reader.read_many(sku_ids)
        except InventoryReadError:
            self._metrics.read_errors.add(1, self._attrs)
            raise
        self._metrics.read_seconds.record(time.perf_counter() - started, self._attrs)
        return rows

    def _read_many_async(self, sku_ids: Collection[str], done: RefreshCallback) -> None:
        started = time.perf_counter()

        def timed(rows: Mapping[str, StockLevel] | Exception) -> None:
            if isinstance(rows, Exception):
                self._metrics.read_errors.add(1, self._attrs)
            else:
                self._metrics.read_seconds.record(time.perf_counter() - started, self._attrs)
            done(rows)

        self._reader.read_many_async(sku_ids, timed)  # type: ignore[attr-defined]
