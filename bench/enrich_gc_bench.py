"""What the cyclic GC walks in the enrich flow's per-record work: the share of time in collections, by
generation, and the objects a young collection finds, by type, over seeded events in one process
(``decide_all`` of ``bench/enrich_core_bench.py``: ``route`` and ``CustomerShard.on_batch``), with a real flow
process's GC settings.

    uv run python bench/enrich_gc_bench.py [--customers 1000000] [--events 400000] [--skus 100000]

With many customers most events are a customer's first, so what a decision leaves behind in the
shard's state is what the young collections find; the full-size ``persona bench`` has 1M customers.
Each young collection's objects are counted from ``gc.get_objects(0)`` in a ``gc.callbacks`` hook
(the first 40 collections; counting is not timed in the GC share, which ``GcTimer`` measures).
"""

from __future__ import annotations

import argparse
import gc
import time
from collections import Counter
from typing import Any

from enrich_core_bench import decide_all, seeded_input

from persona.flows.common.process import GcTimer, prepare_flow_process


def _kind(obj: Any) -> str:
    if type(obj) is tuple:
        size = str(len(obj)) if len(obj) < 4 else "4+"
        return f"tuple{size}[{type(obj[0]).__name__ if obj else ''}]"
    return type(obj).__name__


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--skus", type=int, default=100_000)
    args = parser.parse_args()
    settings, ctx, batches = seeded_input(args.customers, args.events, args.skus)
    prepare_flow_process()
    found: list[Counter[str]] = []

    def count_young(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 0 and len(found) < 40:
            found.append(Counter(_kind(o) for o in gc.get_objects(0)))

    timer = GcTimer().install()
    gc.callbacks.append(count_young)
    started = time.perf_counter()
    _shards, decided = decide_all(settings, ctx, batches)
    elapsed = time.perf_counter() - started
    gc.callbacks.remove(count_young)
    timer.uninstall()
    total = sum(found, Counter())
    young = max(1, len(found))
    print(f"enrich GC, {args.customers:,} customers, {args.skus:,} SKUs, {decided:,} decisions:")
    print("| measure | value |")
    print("|---|---:|")
    print(f"| decisions/s (one core, no I/O) | {decided / elapsed:,.0f} |")
    print(f"| share of the time in the cyclic GC | {sum(timer.seconds) / elapsed:.1%} |")
    collections = "/".join(str(c) for c in timer.collections)
    millis = "/".join(f"{s * 1000:.0f}" for s in timer.seconds)
    print(f"| collections by generation, ms | {collections}, {millis} |")
    print(f"| objects a young collection walks | {sum(total.values()) / young:,.0f} |")
    print()
    print("| object type | per young collection |")
    print("|---|---:|")
    for kind, count in total.most_common(8):
        print(f"| {kind} | {count / young:,.0f} |")


if __name__ == "__main__":
    main()
