"""Put generated data where the pipeline reads it: files for replay, Paimon, Cassandra, Kafka.

The generator itself is pure; these functions do the I/O for the demo, ``persona generate``, the
end-to-end tests and the benchmarks.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import orjson

from persona.contracts import Topics
from persona.crm import OrderChange
from persona.datagen.crm_history import NotAnOrderChange, order_change
from persona.datagen.generator import DataGenerator, WireRecord
from persona.inventory import CassandraInventory, StockLevel
from persona.kafka import make_producer, produce
from persona.paimon import PaimonWarehouse, TableWriter


class OrderWriter(Protocol):
    """Where the demo's order changes go when they travel the real path: the CRM (``MariaDbCrm``)."""

    def apply(self, changes: Sequence[OrderChange]) -> int: ...


@dataclass
class StreamStats:
    events: int = 0
    orders: int = 0
    seconds: float = 0.0
    # Generated order records no CRM statement can express (malformed ones), not written anywhere.
    orders_skipped: int = 0

    @property
    def rate(self) -> float:
        return (self.events + self.orders) / self.seconds if self.seconds else 0.0


def write_files(
    gen: DataGenerator, out_dir: Path, records: list[WireRecord], inventory_ms: int
) -> dict[str, Path]:
    """The four replay inputs of one scenario (events, orders, profiles, inventory as of
    ``inventory_ms``); returns their paths by name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / f"{name}.jsonl" for name in ("events", "orders", "profiles", "inventory")}
    paths["events"].write_bytes(b"".join(r.value + b"\n" for r in records if r.kind == "event"))
    paths["orders"].write_bytes(b"".join(r.value + b"\n" for r in records if r.kind == "order"))
    paths["profiles"].write_bytes(b"".join(gen.profile_json(p) + b"\n" for p in gen.profile_rows()))
    paths["inventory"].write_bytes(
        b"".join(orjson.dumps(r) + b"\n" for r in gen.inventory_rows(inventory_ms))
    )
    return paths


def load_profiles(gen: DataGenerator, warehouse: PaimonWarehouse, table: str = "customer_profile") -> int:
    """Write every generated profile in one Paimon commit (the nightly job's role)."""
    writer = TableWriter(warehouse, table, commit_user="persona-generate")
    try:
        count = 0
        for row in gen.profile_rows():
            writer.add(row)
            count += 1
            if writer.pending >= 200_000:
                writer.commit()
        writer.commit()
        return count
    finally:
        writer.close()


def load_inventory(gen: DataGenerator, store: CassandraInventory, updated_ms: int) -> int:
    at = dt.datetime.fromtimestamp(updated_ms / 1000, dt.UTC)
    return store.upsert_many(
        StockLevel(r["sku_id"], r["available_qty"], r["reserved_qty"], at)
        for r in gen.inventory_rows(updated_ms)
    )


def stream_to_kafka(
    gen: DataGenerator,
    bootstrap: str,
    topics: Topics,
    *,
    rate: float,
    seconds: float,
    clock: Callable[[], float] = time.time,
    should_stop: Callable[[], bool] = lambda: False,
    on_progress: Callable[[StreamStats], None] | None = None,
    kafka_config: Mapping[str, str] | None = None,
    crm: OrderWriter | None = None,
) -> StreamStats:
    """Produce events and order changes at ``rate`` records/s for ``seconds``, stamped with ``clock``.

    Every record is stamped with the clock at the moment it is produced, so freshness measured
    downstream (decision time minus event time) includes Kafka and every flow.

    With ``crm``, order changes take the real path: they are written to the CRM as statements (one
    transaction per batch) and reach ``orders_cdc`` through the binlog and Debezium. A malformed
    order record has no statement (the database's types refuse it), so it is counted as skipped; the
    orders_cdc dead-letter path is exercised by the tests and `persona chaos`, which write to the
    topic directly.
    """
    # kafka_config: the security settings (KafkaSecurity.client_config()) of a secured cluster.
    producer = make_producer(bootstrap, kafka_config)
    stats = StreamStats()
    started = clock()
    next_progress = started + 1.0
    try:
        while not should_stop():
            now = clock()
            elapsed = now - started
            if elapsed >= seconds:
                break
            due = min(int(rate * elapsed) - (stats.events + stats.orders), 5_000)
            if due <= 0:
                time.sleep(0.005)  # pacing to the target rate
                continue
            changes: list[OrderChange] = []
            for record in gen.records(due, int(now * 1000), 0):
                if record.kind == "event":
                    produce(producer, topics.behavior_events, record.value, record.key)
                    stats.events += 1
                elif crm is None:
                    produce(producer, topics.orders_cdc, record.value, record.key)
                    stats.orders += 1
                else:
                    try:
                        changes.append(order_change(record))
                    except NotAnOrderChange:
                        stats.orders_skipped += 1
            if changes:
                assert crm is not None
                stats.orders += crm.apply(changes)
            producer.poll(0)
            if on_progress is not None and now >= next_progress:
                stats.seconds = now - started
                on_progress(stats)
                next_progress = now + 1.0
    finally:
        producer.flush(30)
        stats.seconds = clock() - started
    return stats
