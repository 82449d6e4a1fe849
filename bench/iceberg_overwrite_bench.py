"""What replacing an Iceberg table's contents costs: one OVERWRITE snapshot against pyiceberg's
``Transaction.overwrite`` (a delete snapshot, then an append).

    uv run python bench/iceberg_overwrite_bench.py [--rows 1000000] [--rounds 4]

Against the local stack's history catalog (``uv run persona stack up``: iceberg-rest and s3proxy).
Each round replaces a private table's contents once each way, alternating which goes first, with the
same rows (``marketing_segments``' shape); it prints each time, the medians, their ratio, and the
snapshots each way left per replacement. The table is dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import statistics
import time
import uuid
from collections.abc import Callable

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError

from persona.iceberg import replace_contents
from persona.localstack.catalog import history_catalog
from persona.localstack.settings import StackSettings


def segments(n: int, version: int) -> pa.Table:
    at = pa.array([dt.datetime(2026, 12, 1)] * n, pa.timestamp("us"))
    return pa.table(
        {
            "customer_id": pa.array(range(1, n + 1), pa.int64()),
            "segment": pa.array(["ACTIVE"] * n),
            "score": pa.array([0.5] * n, pa.float64()),
            "updated_at": at,
            "version": pa.array([version] * n, pa.int64()),
        }
    )


def pyiceberg_overwrite(catalog: Catalog, identifier: str, data: pa.Table) -> None:
    """pyiceberg's own way, what ``replace_contents`` did before: a delete, then an append."""
    table = catalog.load_table(identifier)
    with table.transaction() as transaction:
        transaction.overwrite(data)


def one_snapshot(catalog: Catalog, identifier: str, data: pa.Table) -> None:
    replace_contents(catalog, identifier, data)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    catalog = history_catalog(StackSettings.from_env(os.environ))
    identifier = f"persona.overwrite_bench_{uuid.uuid4().hex[:8]}"
    ways: dict[str, Callable[[Catalog, str, pa.Table], None]] = {
        "one snapshot": one_snapshot,
        "delete + append": pyiceberg_overwrite,
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    added: dict[str, list[int]] = {name: [] for name in ways}
    version = 0
    try:
        replace_contents(catalog, identifier, segments(args.rows, version))
        for round_ in range(args.rounds):
            order = list(ways) if round_ % 2 == 0 else list(reversed(ways))
            for name in order:
                version += 1
                data = segments(args.rows, version)
                before = len(catalog.load_table(identifier).metadata.snapshots)
                started = time.perf_counter()
                ways[name](catalog, identifier, data)
                times[name].append(time.perf_counter() - started)
                added[name].append(len(catalog.load_table(identifier).metadata.snapshots) - before)
                print(f"round {round_ + 1} {name:<16} {times[name][-1]:6.2f} s", flush=True)
    finally:
        with contextlib.suppress(NoSuchTableError):
            catalog.drop_table(identifier)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"{name:<16} median {median:6.2f} s, snapshots per replacement {sorted(set(added[name]))}")
    print(f"one snapshot / delete + append: x{medians['one snapshot'] / medians['delete + append']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
