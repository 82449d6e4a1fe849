"""What one Iceberg publication costs: seconds to publish a Paimon table of N rows into Nessie.

    uv run python bench/publish_bench.py [--rows 10000,100000,1000000] [--table both] [--repeat 2]
        [--history both|on|off]

For each N, writes N rows into a private copy of ``marketing_segments`` (one row per customer) and of
``segment_decisions`` (the audit table, which only grows), in a temporary warehouse, and publishes
each with ``persona.publish.Publisher`` onto a private Nessie branch (``PERSONA_NESSIE_REF_PREFIX``, so
the shared main is untouched): the time of a full publication (read the Paimon snapshot, write the
Iceberg data files to s3proxy, commit through Nessie's catalog, merge the work branch), and of a
republication of the same snapshot (the idempotence check only). It prints one line per (table, N)
and the ratio to the sink's default commit interval (10 s). The local stack must be up
(``uv run persona stack up``; Nessie and s3proxy); its references are deleted at the end.

``--history`` compares the publication with and without the history catalog (main also appended into
Apache Iceberg's REST catalog server, ``PERSONA_HISTORY_CATALOG``): ``both`` (the default) runs each
size both ways; the bench's tables are dropped from the history catalog at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import statistics
import tempfile
import time
import uuid
from typing import Any

import pyarrow as pa
from pyiceberg.exceptions import NoSuchTableError

from persona.nessie import NessieError
from persona.paimon import PaimonWarehouse, TableWriter
from persona.paimon.schema import MARKETING_SEGMENTS, SEGMENT_DECISIONS, ensure_tables
from persona.publish import Publisher, PublishSettings

COMMIT_INTERVAL_S = 10.0
T0 = dt.datetime(2026, 12, 1)


def segments(n: int) -> pa.Table:
    ids = pa.array(range(1, n + 1), pa.int64())
    at = pa.array([T0] * n, pa.timestamp("ms"))
    return pa.table(
        {
            "customer_id": ids,
            "segment": pa.array(["ACTIVE"] * n),
            "recommendation": pa.array([["sku:1", "sku:2"]] * n, pa.list_(pa.string())),
            "score": pa.array([0.5] * n, pa.float64()),
            "updated_at": at,
            "event_time": at,
            "logic_version": pa.array(["v1"] * n),
            "version": pa.array([1] * n, pa.int64()),
        },
        schema=MARKETING_SEGMENTS.schema,
    )


def decisions(n: int) -> pa.Table:
    rows: dict[str, Any] = {
        name: pa.nulls(n, SEGMENT_DECISIONS.schema.field(name).type)
        for name in SEGMENT_DECISIONS.schema.names
    }
    rows["event_date"] = pa.array(["2026-12-01"] * n)
    rows["event_id"] = pa.array([f"e{i}" for i in range(n)])
    rows["customer_id"] = pa.array([i % 50_000 for i in range(n)], pa.int64())
    rows["event_time"] = pa.array([T0] * n, pa.timestamp("ms"))
    rows["segment"] = pa.array(["ACTIVE"] * n)
    rows["rule"] = pa.array(["active"] * n)
    rows["candidates_json"] = pa.array(['[{"sku_id": "sku:1", "sellable": 3}]'] * n)
    rows["logic_version"] = pa.array(["v1"] * n)
    return pa.table(rows, schema=SEGMENT_DECISIONS.schema)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", default="10000,100000,1000000")
    parser.add_argument("--table", choices=("segments", "decisions", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=2, help="full publications per size (median shown)")
    parser.add_argument(
        "--history", choices=("both", "on", "off"), default="both", help="with the history catalog or not"
    )
    args = parser.parse_args()
    modes = ["off", "on"] if args.history == "both" else [args.history]
    sizes = [int(x) for x in args.rows.split(",")]
    kinds = [("marketing_segments", segments), ("segment_decisions", decisions)]
    if args.table != "both":
        wanted = {"segments": "marketing_segments", "decisions": "segment_decisions"}[args.table]
        kinds = [k for k in kinds if k[0] == wanted]
    tag = uuid.uuid4().hex[:8]
    print(
        f"{'table':<20}{'history':>8}{'rows':>10}{'publish s':>11}{'rows/s':>12}{'republish s':>13}{'x 10 s interval':>17}"
    )
    with tempfile.TemporaryDirectory(prefix="publish-bench-") as tmp:
        for n, history in ((n, mode) for n in sizes for mode in modes):
            suffix = f"_b{tag}_{n}_{history}"
            env = {
                **os.environ,
                "PERSONA_WAREHOUSE": f"{tmp}/wh{n}{history}",
                "PERSONA_TABLE_SUFFIX": suffix,
                "PERSONA_NESSIE_REF_PREFIX": f"bench{tag}-",
                "PERSONA_HISTORY_CATALOG": history,
            }
            ensure_tables(
                env["PERSONA_WAREHOUSE"], specs=(MARKETING_SEGMENTS, SEGMENT_DECISIONS), name_suffix=suffix
            )
            publisher = Publisher(PublishSettings.from_env(env), progress=lambda _line: None)
            warehouse = PaimonWarehouse(env["PERSONA_WAREHOUSE"])
            for name, make in kinds:
                data = make(n)
                times = []
                for _ in range(args.repeat):
                    writer = TableWriter(warehouse, name + suffix, "bench")
                    writer.add_arrow(data)
                    writer.commit()
                    writer.close()
                    started = time.perf_counter()
                    report = publisher.publish([name])
                    times.append(time.perf_counter() - started)
                    assert report.published, report.lines()
                    assert len(report.history) == (1 if history == "on" else 0), report.lines()
                started = time.perf_counter()
                again = publisher.publish([name])
                republish = time.perf_counter() - started
                assert not again.published
                median = statistics.median(times)
                print(
                    f"{name:<20}{history:>8}{n:>10,}{median:>11.2f}{n / median:>12,.0f}{republish:>13.2f}"
                    f"{median / COMMIT_INTERVAL_S:>17.2f}",
                    flush=True,
                )
                if publisher.history is not None:
                    with contextlib.suppress(NoSuchTableError):
                        publisher.history.catalog.drop_table(f"persona.{name}{suffix}")
        for reference in publisher.nessie.references():
            if reference.name.startswith(f"bench{tag}-"):
                with contextlib.suppress(NessieError):
                    publisher.nessie.delete_reference(reference.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
