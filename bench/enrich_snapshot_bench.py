"""What one enrich epoch's state costs as the held state grows, with the same changes each epoch: a
snapshot holding every customer (no ``PERSONA_ENRICH_STATE_DIR``) against the customer log.

    uv run python bench/enrich_snapshot_bench.py [--customers 25000,100000] [--events-per-customer 8]
        [--epoch-events 20000]

Per size: the shards are filled with seeded events, a twin of them is made in log mode (restored from
their snapshots, so the first seal writes every customer into a base), and then the same epoch of
events goes through both. Reported per variant: the epoch's decide time (the log's appends included),
the snapshot (inline: encode plus the pickling Bytewax does before its SQLite write, which is not
counted; log: the last chunk, fsync and file names), and what it wrote. For the log, one merge of the
shards' files is timed as well, and its share per epoch estimated as ``COMPACT_RATIO`` implies (a
shard's files are merged once its segments hold twice its base: per appended byte ~1.5 bytes read
and 0.5 written). No Kafka, Cassandra or Bytewax: ``route`` and ``CustomerShard`` over seeded events,
as ``bench/enrich_core_bench.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import pickle
import tempfile
import time
from pathlib import Path

from enrich_core_bench import decide_all, seeded_input

from persona.flows.enrich import CustomerShard, route
from persona.flows.enrich import customer_log as cl
from persona.flows.enrich.flow import EnrichContext
from persona.kafka.bytewax_io import RawBatch
from persona.settings import PipelineSettings


def epoch(shards: dict[str, CustomerShard], settings: PipelineSettings, batches: list[RawBatch]) -> float:
    started = time.perf_counter()
    for batch in batches:
        for key, items in route(settings, batch):
            shards[key].on_batch([items])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", default="25000,100000")
    parser.add_argument("--events-per-customer", type=int, default=8)
    parser.add_argument("--epoch-events", type=int, default=20_000)
    args = parser.parse_args()
    print("| customers | variant | epoch decide | snapshot | written | merge (amortized per epoch) |")
    print("|---:|---|---:|---:|---:|---:|")
    for customers in (int(c) for c in args.customers.split(",")):
        fill_events = customers * args.events_per_customer
        settings, ctx, batches = seeded_input(customers, fill_events + args.epoch_events, customers // 10)
        cut = len(batches) - args.epoch_events // 2000
        fill, last = batches[:cut], batches[cut:]
        inline, _ = decide_all(settings, ctx, fill)
        with tempfile.TemporaryDirectory() as directory:
            log_ctx = EnrichContext(
                dataclasses.replace(settings, enrich_state_dir=directory),
                ctx.profiles,
                ctx.inventory,
                ctx.clock,
            )
            logged = {key: CustomerShard(log_ctx, shard.snapshot()) for key, shard in inline.items()}
            for shard in logged.values():
                shard.snapshot()  # every customer into the log: the shard's first file
            stats = log_ctx.compactor.stats
            appended_before, append_s_before = stats.appended_bytes, stats.append_seconds

            decide_s = epoch(inline, settings, last)
            started = time.perf_counter()
            snapshots = [shard.snapshot() for shard in inline.values()]
            size = len(pickle.dumps(snapshots))
            snapshot_s = time.perf_counter() - started
            print(
                f"| {customers:,} | every customer | {decide_s:.3f} s | {snapshot_s * 1000:.0f} ms | "
                f"{size / 1e6:.1f} MB | – |"
            )

            decide_s = epoch(logged, settings, last)
            started = time.perf_counter()
            for shard in logged.values():
                shard.snapshot()
            snapshot_s = time.perf_counter() - started
            appended = stats.appended_bytes - appended_before
            append_s = stats.append_seconds - append_s_before
            merge_s = 0.0
            merged_in = 0
            for key in logged:
                shard_dir = Path(directory) / f"shard-{key}"
                files = sorted(shard_dir.glob("*.seg"))
                merged_in += sum(f.stat().st_size for f in files)
                started_cpu = time.process_time()
                cl.compact(shard_dir / "bench.base", files)
                merge_s += time.process_time() - started_cpu
            amortized = merge_s / merged_in * appended * 1.5 if merged_in else 0.0
            print(
                f"| {customers:,} | customer log | {decide_s:.3f} s (appends {append_s * 1000:.0f} ms) | "
                f"{snapshot_s * 1000:.0f} ms | {appended / 1e6:.1f} MB | {merge_s * 1000:.0f} ms for "
                f"{merged_in / 1e6:.0f} MB ({amortized * 1000:.0f} ms) |"
            )


if __name__ == "__main__":
    main()
