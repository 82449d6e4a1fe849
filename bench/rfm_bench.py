"""The nightly RFM job at full size: wall time, peak RSS and where the time goes.

    uv run python bench/rfm_bench.py [--customers 1000000] [--mean-orders 10] [--as-of 2026-11-27]

Brings the local stack up (PERSONA_* settings as usual), loads a private CRM database with the seeded
history of ``persona crm seed`` (customers 1..N, ~N x mean-orders orders) through LOAD DATA LOCAL
INFILE, then runs ``persona rfm run --as-of D`` against it and a fresh warehouse, sampling the RSS of
the job's whole process tree (the Python driver, Spark's JVM, the Python workers) every 0.25 s. The
private database is dropped at the end; the stack's own ``crm`` and its connector are never touched.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from persona.crm import TABLES_DDL, connect, utc_datetime
from persona.datagen.crm_history import HistoryConfig, history_customers, history_orders
from persona.localstack import StackSettings, up
from persona.localstack.crm_schema import LOCAL_USER_HOST, root_endpoint
from persona.paimon import PaimonWarehouse, ensure_tables

REPO = Path(__file__).resolve().parents[1]
CHUNK_ROWS = 1_000_000


def _stamp(ms: int) -> str:
    return utc_datetime(ms).isoformat(sep=" ", timespec="milliseconds")


def _load(cursor: object, path: Path, table: str, lines: Iterable[str]) -> int:
    rows = 0
    with path.open("w") as out:
        for line in lines:
            out.write(line)
            rows += 1
    cursor.execute(  # type: ignore[attr-defined]
        f"LOAD DATA LOCAL INFILE %s INTO TABLE {table} FIELDS TERMINATED BY '\\t'", (str(path),)
    )
    return rows


def _chunks(lines: Iterable[str], size: int) -> Iterable[list[str]]:
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def load_crm(stack: StackSettings, database: str, config: HistoryConfig, scratch: Path) -> dict[str, float]:
    started = time.monotonic()
    timings: dict[str, float] = {}
    with connect(root_endpoint(stack), autocommit=True) as root, root.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{database}`")
        cursor.execute(f"USE `{database}`")
        for ddl in TABLES_DDL:
            cursor.execute(ddl)
        cursor.execute(f"GRANT SELECT ON `{database}`.* TO %s@%s", (stack.crm_user, LOCAL_USER_HOST))
        customers = _load(
            cursor,
            scratch / "customers.tsv",
            "customers",
            (f"{c.customer_id}\t{c.email}\t{_stamp(c.created_at_ms)}\n" for c in history_customers(config)),
        )
        timings["customers"] = customers
        orders = 0
        lines = (
            f"{o.order_id}\t{o.customer_id}\t{o.status}\t{o.total_amount}\t{o.currency}\t"
            f"{_stamp(o.order_time_ms)}\t{_stamp(o.updated_at_ms)}\n"
            for o in history_orders(config)
        )
        for chunk in _chunks(lines, CHUNK_ROWS):
            orders += _load(cursor, scratch / "orders.tsv", "orders", chunk)
            print(
                f"  {orders:,} orders loaded ({time.monotonic() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
        timings["orders"] = orders
    timings["load_seconds"] = time.monotonic() - started
    return timings


def _tree_rss(root: int) -> int:
    """RSS of ``root`` and all its descendants, in bytes."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            statm = (entry / "statm").read_text()
        except OSError:
            continue
        pid = int(entry.name)
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(statm.split()[1]) * page
    total, stack_ = 0, [root]
    while stack_:
        pid = stack_.pop()
        total += rss.get(pid, 0)
        stack_.extend(children.get(pid, []))
    return total


def run_job(database: str, warehouse: Path, as_of: dt.date) -> dict[str, float | str]:
    env = {**os.environ, "PERSONA_CRM_DATABASE": database, "PERSONA_WAREHOUSE": str(warehouse)}
    command = [sys.executable, "-m", "persona.cli.main", "rfm", "run", "--as-of", as_of.isoformat()]
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            command, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True
        )
        peak = 0
        while process.poll() is None:
            peak = max(peak, _tree_rss(process.pid))
            time.sleep(0.25)  # the RSS sampling interval
        wall = time.monotonic() - started
        log.seek(0)
        text = log.read()
    if process.returncode != 0:
        raise SystemExit(f"the job failed ({process.returncode}):\n{text[-4000:]}")
    match = re.search(
        r"(\d[\d,]*) profiles, snapshot (\d+), tag (\S+) \(Spark ([\d.]+) s, Paimon ([\d.]+) s\)", text
    )
    if match is None:
        raise SystemExit(f"the job's summary line is missing:\n{text[-4000:]}")
    spark, paimon = float(match.group(4)), float(match.group(5))
    return {
        "wall_seconds": round(wall, 1),
        "startup_seconds": round(wall - spark - paimon, 1),
        "spark_seconds": spark,
        "paimon_seconds": paimon,
        "peak_rss_mib": round(peak / 2**20),
        "profiles": int(match.group(1).replace(",", "")),
        "tag": match.group(3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--mean-orders", type=float, default=10.0)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 11, 27))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    stack = StackSettings.from_env(os.environ)
    up(stack)
    end_ms = int(
        dt.datetime.combine(args.as_of + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC).timestamp() * 1000
    )
    config = HistoryConfig(
        seed=args.seed,
        customers=args.customers,
        history_days=400,
        mean_orders=args.mean_orders,
        end_ms=end_ms,
    )
    database = f"crm_bench_{uuid.uuid4().hex[:8]}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            scratch = Path(tmp)
            load = load_crm(stack, database, config, scratch)
            warehouse = scratch / "warehouse"
            ensure_tables(warehouse)
            result = run_job(database, warehouse, args.as_of)
            rows = PaimonWarehouse(warehouse).read_arrow("customer_profile", columns=["customer_id"]).num_rows
            assert rows == result["profiles"], (rows, result)
    finally:
        with connect(root_endpoint(stack), autocommit=True) as root, root.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
    print(
        json.dumps(
            {
                "customers": load["customers"],
                "orders": load["orders"],
                "load_seconds": round(load["load_seconds"], 1),
                **result,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
