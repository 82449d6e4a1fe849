"""Wiring of the enrich flow: what its shards share (``EnrichContext``) and the dataflow (``build_flow``).

Items are batches, not records: the source hands over the records of one poll, ``route`` parses them
and splits them by customer shard (``customer_id % shards``), and one ``stateful_batch`` logic per
shard (``CustomerShard``) keeps its customers' state, decides, and returns every output record of the
batch as one item. The per-record work is persona's own (parse, state transition, ``decide``,
encode); Bytewax moves a few items per poll whatever the rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import Sink

from persona.contracts import CustomerProfile, InventoryRow
from persona.flows.common.metrics import FlowMetrics
from persona.flows.common.observability import start_observability
from persona.flows.common.process import GcTimer, prepare_flow_process
from persona.flows.common.wiring import batch_sink, raw_source
from persona.flows.enrich.customer_log import Compactor
from persona.flows.enrich.instrumentation import EnrichMetrics, TimedReader
from persona.flows.enrich.reporting import SnapshotStats, StatsLog
from persona.flows.enrich.routing import DLQ, route
from persona.flows.enrich.shard import CustomerShard
from persona.flows.enrich.spec import SPEC

# Bytewax recovery pickles a shard's snapshot by its class's module path, and stores written by
# versions that defined the class in this module name it here: unpickling them resolves it through
# this import.
from persona.flows.enrich.state import ShardSnapshot  # noqa: F401
from persona.settings import PipelineSettings, configure_logging


class Inventory(Protocol):
    def sellable(self, sku_ids: Iterable[str]) -> dict[str, int | None]: ...

    def prefetch(self, sku_ids: Iterable[str]) -> set[str]:
        """The SKUs ``sellable`` could not answer now without reading (their reads are started)."""
        ...

    def record_change(self, row: InventoryRow) -> None: ...


class Profiles(Protocol):
    def get(self, customer_id: int) -> CustomerProfile | None: ...

    def maybe_refresh(self) -> bool: ...


@dataclass
class EnrichContext:
    """What every shard of one process shares: settings, profiles, the inventory cache, a clock, and
    what the statistics lines report."""

    settings: PipelineSettings
    profiles: Profiles
    inventory: Inventory
    clock: Callable[[], float] = time.time
    # Merges the shards' customer logs in the background.
    compactor: Compactor = field(default_factory=Compactor)
    snapshots: SnapshotStats = field(default_factory=SnapshotStats)
    stats_log: StatsLog = field(default_factory=StatsLog)
    # Inert unless the flow process started its metrics (build_flow).
    instruments: EnrichMetrics = field(default_factory=lambda: EnrichMetrics(FlowMetrics(SPEC.name, None)))

    def maybe_report(self) -> None:
        """Log the statistics lines if they are due."""
        # The cache's counters, if the inventory is one (``persona.inventory.InventoryCache``).
        inventory_stats = getattr(self.inventory, "stats", None)
        self.stats_log.maybe_log(self.snapshots, self.compactor.stats, inventory_stats)


def build_flow(
    settings: PipelineSettings | None = None,
    source: Source[Any] | None = None,
    sink: Sink[Any] | None = None,
    *,
    profiles: Profiles | None = None,
    inventory: Inventory | None = None,
    clock: Callable[[], float] = time.time,
) -> Dataflow:
    """The enrich dataflow. Without ``source``, it is the flow process's: Kafka in and out, logging
    configured, the GC timed and tuned; tests pass their own source, sink, profiles and inventory."""
    process = source is None
    if process:
        configure_logging()
    settings = settings or PipelineSettings.from_env()
    metrics = start_observability(SPEC, settings).metrics if process else FlowMetrics(SPEC.name, None)
    instruments = EnrichMetrics(metrics)
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

        cassandra = CassandraInventory(
            settings.cassandra_hosts,
            settings.cassandra_port,
            keyspace=settings.inventory_keyspace,
            table=settings.inventory_table,
            credentials=settings.cassandra_security.credentials(),
            ssl_context=settings.cassandra_security.ssl_context(),
        )
        cache = InventoryCache(
            TimedReader(cassandra, instruments) if instruments.enabled else cassandra,
            ttl_seconds=settings.inventory_ttl_seconds,
        )
        instruments.cache = cache.stats
        inventory = cache
    stats_log = StatsLog(gc_timer=GcTimer().install() if process else None)
    ctx = EnrichContext(settings, profiles, inventory, clock, stats_log=stats_log, instruments=instruments)
    topics = settings.topics
    flow = Dataflow(SPEC.dataflow_id)
    inputs = list(SPEC.inputs(topics))
    batches = op.input(SPEC.input_step, flow, source or raw_source(settings, inputs, SPEC.name))
    routed = op.flat_map("route", batches, lambda batch: route(settings, batch, metrics))
    split = op.branch("split_dlq", routed, lambda item: item[0] == DLQ)
    decided = op.stateful_batch("customers", split.falses, lambda resume: CustomerShard(ctx, resume))
    op.output("out", op.merge("all", decided, split.trues), sink or batch_sink(settings))
    if process:
        prepare_flow_process()
    return flow
