"""What the enrich flow keeps per customer, once each customer's state has filled to its bounds:
bytes in memory (deep size, every shared object counted once, so interned SKU strings count once
for all customers), bytes in the shard snapshot, and the time to encode that snapshot; plus the
decisions/s of the loop that built it.

    uv run python bench/enrich_state_bench.py [--customers 20000] [--events-per-customer 40]

With 40 events a customer (the default) every customer has decided more than the 32 event ids the
state remembers and seen up to 20 recent SKUs, i.e. the plateau a long-running flow reaches.
No Kafka, Cassandra or Bytewax: ``route`` and ``CustomerShard`` over seeded events, as
``bench/enrich_core_bench.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from typing import Any

from persona.contracts import CustomerProfile, InventoryRow
from persona.datagen import DataGenerator, GeneratorConfig
from persona.flows.enrich.flow import CustomerShard, EnrichContext, route
from persona.pipeline import PipelineSettings
from persona.pipeline.kafka_wiring import RawBatch
from persona.pipeline.profiles import profiles_from_rows


class _Profiles:
    def __init__(self, profiles: dict[int, CustomerProfile]) -> None:
        self._profiles = profiles

    def get(self, customer_id: int) -> CustomerProfile | None:
        return self._profiles.get(customer_id)

    def maybe_refresh(self) -> bool:
        return False


class _Stock:
    def __init__(self, stock: dict[str, int | None]) -> None:
        self._stock = stock

    def sellable(self, sku_ids: Iterable[str]) -> dict[str, int | None]:
        return {s: self._stock.get(s) for s in sku_ids}

    def prefetch(self, sku_ids: Iterable[str]) -> set[str]:
        return set()

    def record_change(self, row: InventoryRow) -> None:
        self._stock[row.sku_id] = row.sellable


def deep_size(root: Any) -> int:
    """``sys.getsizeof`` over everything reachable from ``root``, each object once."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        elif hasattr(obj, "__struct_fields__"):
            stack.extend(getattr(obj, f) for f in obj.__struct_fields__)
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--events-per-customer", type=int, default=40)
    args = parser.parse_args()
    settings = PipelineSettings()
    events = args.customers * args.events_per_customer
    gen = DataGenerator(
        GeneratorConfig(seed=7, customers=args.customers, skus=10_000, order_fraction=0.0)
    )
    profiles = profiles_from_rows(list(gen.profile_rows()), "rfm-bench")
    stock: dict[str, int | None] = {
        str(row["sku_id"]): int(row["available_qty"]) - int(row["reserved_qty"])
        for row in gen.inventory_rows(0)
    }
    records = [r for r in gen.records(events, 1_795_000_000_000, 1.0) if r.kind == "event"]
    topic = settings.topics.behavior_events
    batches = [
        RawBatch(topic, 0, [(r.key, r.value) for r in records[i : i + 2000]])
        for i in range(0, len(records), 2000)
    ]
    del records
    ctx = EnrichContext(settings, _Profiles(profiles), _Stock(stock), clock=lambda: 1_795_000_100.0)
    shards: dict[str, CustomerShard] = {}
    rt_topic = settings.topics.marketing_segments_rt
    started = time.perf_counter()
    decided = 0
    for batch in batches:
        for key, items in route(settings, batch):
            shard = shards.get(key)
            if shard is None:
                shard = shards[key] = CustomerShard(ctx, None)
            out, _ = shard.on_batch([items])
            decided += sum(1 for o in out for record in o if record[0] == rt_topic)
    elapsed = time.perf_counter() - started
    customers = sum(len(s.customers) for s in shards.values())
    memory = deep_size([(s.customers, s.offered, s.offered_to) for s in shards.values()])
    encode_started = time.perf_counter()
    snapshots = [s.snapshot() for s in shards.values()]
    encode_s = time.perf_counter() - encode_started
    encoded = sum(len(s.state) for s in snapshots)
    print(f"enrich state, {customers:,} customers, {events:,} records ({decided:,} decided):")
    print("| measure | value |")
    print("|---|---:|")
    print(f"| decisions/s building it | {decided / elapsed:,.0f} |")
    print(f"| memory per customer (deep size) | {memory / customers:,.0f} B |")
    print(f"| snapshot per customer (msgpack) | {encoded / customers:,.0f} B |")
    print(f"| snapshot encode, per 1M customers | {encode_s / customers * 1e6:.2f} s |")


if __name__ == "__main__":
    main()
