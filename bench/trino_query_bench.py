"""Trino (over the Iceberg publication in Nessie) vs the embedded DataFusion (over Paimon): the same
queries on the same snapshot of N customers, timed in one run.

    uv run python bench/trino_query_bench.py [--customers 200000] [--repeats 5]

Writes ``marketing_segments`` (N rows) into a private Paimon warehouse (a temporary directory),
publishes its snapshot to Iceberg in a namespace of its own on Nessie's main (what `persona publish`
does), then runs each query ``--repeats`` times per engine after one warm-up, and prints the median
wall time per query and engine and their ratio. Both answers are checked equal before timing. The
stack must be up with Trino (``uv run persona stack up --with trino``). The namespace is dropped at
the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from persona.iceberg import replace_contents
from persona.localstack import StackSettings
from persona.localstack.catalog import iceberg_catalog
from persona.localstack.sqlengine import run_sql
from persona.paimon import PaimonWarehouse, TableWriter, ensure_tables

SEGMENTS = ("AT_RISK", "DORMANT", "LOYAL", "NEW", "VIP")
QUERIES = {
    "count": "SELECT count(*) AS n FROM marketing_segments",
    "per-segment counts": "SELECT segment, count(*) AS n FROM marketing_segments GROUP BY segment ORDER BY segment",
    "one customer": "SELECT * FROM marketing_segments WHERE customer_id = 4242",
    "top 100 by score": "SELECT customer_id, score FROM marketing_segments ORDER BY score DESC, customer_id LIMIT 100",
}


def segment_table(customers: int) -> pa.Table:
    base = dt.datetime(2026, 12, 1)
    ids = list(range(1, customers + 1))
    return pa.table(
        {
            "customer_id": pa.array(ids, pa.int64()),
            "segment": pa.array([SEGMENTS[(c * 7) % len(SEGMENTS)] for c in ids]),
            "recommendation": pa.array([[f"sku-{c % 97}"] for c in ids], pa.list_(pa.string())),
            "score": pa.array([(c * 37 % 1000) / 10 for c in ids], pa.float64()),
            "updated_at": pa.array([base + dt.timedelta(seconds=c) for c in ids], pa.timestamp("ms")),
            "event_time": pa.array([base + dt.timedelta(seconds=c) for c in ids], pa.timestamp("ms")),
            "logic_version": pa.array(["v1"] * customers),
            "version": pa.array([1] * customers, pa.int64()),
        }
    )


def median_seconds(run: Callable[[], Any], repeats: int) -> float:
    run()  # warm-up: first planning, metadata caches, JIT
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    stack = StackSettings.from_env(os.environ)
    namespace = f"bench_{os.urandom(4).hex()}"
    catalog = iceberg_catalog(stack)
    with tempfile.TemporaryDirectory() as directory:
        ensure_tables(directory)
        warehouse = PaimonWarehouse(directory)
        writer = TableWriter(warehouse, "marketing_segments", commit_user="bench")
        writer.add_arrow(segment_table(args.customers).cast(writer.schema))
        writer.commit()
        writer.close()
        began = time.perf_counter()
        replace_contents(
            catalog, f"{namespace}.marketing_segments", warehouse.read_arrow("marketing_segments")
        )
        print(f"published {args.customers} rows to Iceberg in {time.perf_counter() - began:.2f} s")
        try:
            print(f"{'query':<20} {'datafusion s':>13} {'trino s':>9} {'trino/datafusion':>17}")
            for label, sql in QUERIES.items():
                datafusion_rows = warehouse.sql(sql).to_pylist()
                trino_rows = [dict(r) for r in run_sql(stack, sql, schema=namespace).rows]
                if datafusion_rows != trino_rows:
                    raise SystemExit(f"{label}: the engines disagree:\n{datafusion_rows}\n{trino_rows}")
                datafusion = median_seconds(lambda sql=sql: warehouse.sql(sql), args.repeats)
                trino = median_seconds(lambda sql=sql: run_sql(stack, sql, schema=namespace), args.repeats)
                print(f"{label:<20} {datafusion:>13.3f} {trino:>9.3f} {trino / datafusion:>17.2f}")
        finally:
            catalog.drop_table(f"{namespace}.marketing_segments")
            catalog.drop_namespace(namespace)


if __name__ == "__main__":
    main()
