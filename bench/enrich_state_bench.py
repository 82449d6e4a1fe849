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
from typing import Any

from enrich_core_bench import decide_all, seeded_input


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
    events = args.customers * args.events_per_customer
    settings, ctx, batches = seeded_input(args.customers, events, 10_000)
    started = time.perf_counter()
    shards, decided = decide_all(settings, ctx, batches)
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
