"""What Cassandra's CPU pays for: the same SKUs/s read in bursts of different sizes.

    uv run python bench/cassandra_burst_bench.py [--rate 3300] [--seconds 20] [--bursts 250,1650,3300] [--chunk 100]

Reads ``--rate`` SKUs/s from a private copy of ``supply.inventory_projection`` (9,000 SKUs, created
and dropped by the run) through ``CassandraInventory.read_many_async`` (IN-chunks of ``--chunk``), one burst
of N SKUs every N/rate seconds, for each N of ``--bursts``, and reports Cassandra's CPU (% of one
core, from /proc) during each. The local stack must be up (``uv run persona stack up``); nothing
else should run meanwhile, since the process's CPU is the measurement.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from persona.benchkit.procstat import cpu_seconds
from persona.inventory import CassandraInventory
from persona.inventory.protocol import StockLevel
from persona.localstack import INVENTORY_COLUMNS_CQL, StackSettings, cassandra_session, running_pid

SKUS = 9_000


def paced(
    inventory: CassandraInventory, skus: list[str], pid: int, burst: int, rate: float, seconds: float
) -> tuple[float, float]:
    """(Cassandra CPU %, SKUs/s answered) while reading ``rate`` SKUs/s in bursts of ``burst``."""
    answered = [0]
    errors: list[Exception] = []
    lock = threading.Lock()

    def done(rows: Mapping[str, StockLevel] | Exception) -> None:  # on the driver's thread
        with lock:
            if isinstance(rows, Exception):
                errors.append(rows)
            else:
                answered[0] += len(rows)

    cpu_before = cpu_seconds(pid) or 0.0
    started = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - started) < seconds:
        if int(rate * elapsed) - sent < burst:
            time.sleep(0.002)  # pacing: the next burst is not due yet
            continue
        inventory.read_many_async([skus[(sent + j) % len(skus)] for j in range(burst)], done)
        sent += burst
    deadline = time.monotonic() + 10
    while answered[0] < sent and time.monotonic() < deadline:
        time.sleep(0.01)  # waiting for the last burst's answers
    cpu = (cpu_seconds(pid) or 0.0) - cpu_before
    if errors:
        raise SystemExit(f"{len(errors)} reads failed, the first: {errors[0]}")
    return 100 * cpu / seconds, answered[0] / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=3_300, help="SKUs/s read")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per burst size")
    parser.add_argument("--bursts", default="250,1650,3300", help="burst sizes (SKUs), comma-separated")
    parser.add_argument(
        "--chunk", type=int, default=100, help="SKUs per request (the adapter's default: 100)"
    )
    args = parser.parse_args()
    stack = StackSettings.from_env(os.environ)
    pid = running_pid(stack, "cassandra")
    if pid is None:
        raise SystemExit("Cassandra is not running: uv run persona stack up")
    table = f"burst_{uuid.uuid4().hex[:8]}"
    with cassandra_session(stack, "supply") as session:
        session.execute(f"CREATE TABLE {table} {INVENTORY_COLUMNS_CQL}")
    host, port = stack.cassandra_contact
    inventory = CassandraInventory([host], port, table=table, chunk_size=args.chunk)
    try:
        skus = [f"SKU-{i:06d}" for i in range(SKUS)]
        inventory.upsert_many(StockLevel(s, 10, 1, datetime.now(UTC)) for s in skus)
        inventory.read_many(skus[:100])  # connect and prepare before measuring
        print(
            f"Cassandra pid {pid}; {args.rate:,.0f} SKUs/s for {args.seconds:.0f}s per burst size, "
            f"requests of {args.chunk} SKUs"
        )
        for burst in (int(b) for b in args.bursts.split(",")):
            cpu, got = paced(inventory, skus, pid, burst, args.rate, args.seconds)
            print(
                f"bursts of {burst:>5} SKUs ({args.rate / burst:5.1f}/s): Cassandra {cpu:5.1f}% CPU, {got:,.0f} SKUs/s answered"
            )
    finally:
        inventory.close()
        with cassandra_session(stack, "supply") as session:
            session.execute(f"DROP TABLE IF EXISTS {table}")


if __name__ == "__main__":
    main()
