"""Paimon primary-key writes through persona.paimon.TableWriter: rows/s and per-commit cost.

    uv run python bench/paimon_commit_bench.py [--batches 20] [--rows 1000]

Writes ``--batches`` commits of ``--rows`` marketing_segments rows (overlapping keys, so the merged
read really merges) into a fresh temporary warehouse, then reads the merged table back.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time

from persona.paimon import PaimonWarehouse, TableWriter, ensure_tables


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ensure_tables(tmp)
        warehouse = PaimonWarehouse(tmp)
        writer = TableWriter(warehouse, "marketing_segments", commit_user="bench")
        now = dt.datetime(2026, 11, 24)
        commit_ms = []
        started = time.perf_counter()
        for b in range(args.batches):
            for i in range(args.rows):
                key = (b * args.rows // 2) + i  # half of each batch updates the previous one
                writer.add(
                    {
                        "customer_id": key,
                        "segment": "ACTIVE",
                        "recommendation": ["sku:A", "sku:B"],
                        "score": 1.5,
                        "updated_at": now,
                        "event_time": now,
                        "logic_version": "v1",
                        "version": b + 1,
                    }
                )
            result = writer.commit()
            assert result is not None
            commit_ms.append(result.seconds * 1000)
        total = time.perf_counter() - started
        writer.close()
        t0 = time.perf_counter()
        rows = warehouse.read_arrow("marketing_segments").num_rows
        read_s = time.perf_counter() - t0
    n = args.batches * args.rows
    print(f"native write: {writer.uses_native_write}")
    print(
        f"{n} rows in {args.batches} commits: {n / total:,.0f} rows/s including row building; "
        f"commit (write+publish) p50 {statistics.median(commit_ms):.1f} ms max {max(commit_ms):.1f} ms; "
        f"merged read of {rows} rows {read_s * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
