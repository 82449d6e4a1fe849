"""The enrich flow's per-record work in one process, without Kafka, Cassandra or Bytewax: ``route``
(parse, shard) and ``CustomerShard.on_batch`` (state, inventory lookup, decide, encode both outputs)
over seeded events, under three settings of Python's cyclic GC, compared within one run.

    uv run python bench/enrich_core_bench.py [--customers 100000] [--events 300000] [--repeat 3]

* ``default``: Python's GC thresholds, as a test process or a naive flow process has them;
* ``flow``: what ``persona.flows.common.process.prepare_flow_process`` sets in a real flow process;
* ``off``: no cyclic GC at all (the upper bound; not an option for a long-running process).

Each setting runs in a fresh child process (GC state does not leak between them); the best of
``--repeat`` runs is reported, with its ratio to ``off``.
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import time
from collections.abc import Iterable

from persona.contracts import CustomerProfile, InventoryRow
from persona.datagen import DataGenerator, GeneratorConfig
from persona.flows.common.process import prepare_flow_process
from persona.flows.enrich import CustomerShard, EnrichContext, route
from persona.kafka.bytewax_io import RawBatch
from persona.paimon.profiles import profiles_from_rows
from persona.settings import PipelineSettings


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


def seeded_input(
    customers: int, events: int, skus: int
) -> tuple[PipelineSettings, EnrichContext, list[RawBatch]]:
    """Settings, an enrich context over in-memory profiles and stock, and seeded event batches
    (2,000 records each, as a saturated poll hands them over)."""
    settings = PipelineSettings()
    gen = DataGenerator(GeneratorConfig(seed=7, customers=customers, skus=skus, order_fraction=0.0))
    profiles = profiles_from_rows(list(gen.profile_rows()), "rfm-bench")
    stock: dict[str, int | None] = {
        str(row["sku_id"]): int(row["available_qty"]) - int(row["reserved_qty"])
        for row in gen.inventory_rows(0)
    }
    records = [r for r in gen.records(events, 1_795_000_000_000, 1.0) if r.kind == "event"]
    topic = settings.topics.behavior_events
    batches = [
        RawBatch(topic, 0, [r.key for r in records[i : i + 2000]], [r.value for r in records[i : i + 2000]])
        for i in range(0, len(records), 2000)
    ]
    ctx = EnrichContext(settings, _Profiles(profiles), _Stock(stock), clock=lambda: 1_795_000_100.0)
    return settings, ctx, batches


def decide_all(
    settings: PipelineSettings, ctx: EnrichContext, batches: list[RawBatch]
) -> tuple[dict[str, CustomerShard], int]:
    """Every batch through ``route`` and the shards; the shards and the number of decisions."""
    shards: dict[str, CustomerShard] = {}
    rt_topic = settings.topics.marketing_segments_rt
    decided = 0
    for batch in batches:
        for key, items in route(settings, batch):
            shard = shards.get(key)
            if shard is None:
                shard = shards[key] = CustomerShard(ctx, None)
            out, _ = shard.on_batch([items])
            decided += sum(1 for o in out for record in o if record[0] == rt_topic)
    return shards, decided


def run_once(customers: int, events: int, mode: str) -> float:
    settings, ctx, batches = seeded_input(customers, events, customers // 10)
    if mode == "flow":
        prepare_flow_process()
    elif mode == "off":
        gc.disable()
    started = time.perf_counter()
    _shards, decided = decide_all(settings, ctx, batches)
    elapsed = time.perf_counter() - started
    return decided / elapsed


def child_rate(script: str, mode: str, customers: int, events: int) -> float:
    """Run ``script --child MODE`` in a fresh interpreter (no state carried between modes) and return
    the rate its last output line prints."""
    out = subprocess.run(
        [sys.executable, script, "--child", mode, "--customers", str(customers), "--events", str(events)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=["default", "flow", "off"])
    args = parser.parse_args()
    if args.child:
        print(run_once(args.customers, args.events, args.child))
        return
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        for mode in ("default", "flow", "off"):
            best[mode] = max(best.get(mode, 0.0), child_rate(__file__, mode, args.customers, args.events))
    print(f"enrich core, {args.customers:,} customers, {args.events:,} records, best of {args.repeat}:")
    print("| GC setting | decisions/s | vs off |")
    print("|---|---:|---:|")
    for mode in ("default", "flow", "off"):
        print(f"| {mode} | {best[mode]:,.0f} | {best[mode] / best['off']:.2f} |")


if __name__ == "__main__":
    main()
