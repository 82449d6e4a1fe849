"""`persona segments show|explain` and `persona sql`: read the warehouse through pypaimon.

``show`` prints a customer's current ``marketing_segments`` row; ``explain`` the decision in force at
a time (the newest ``segment_decisions`` row of the customer decided at or before it — a decision is
in force from the moment it is made until the next one) with every input it used (both from
``persona.paimon.explain``, which the console shares); ``sql`` runs any
query through pypaimon's embedded DataFusion engine, including ``VERSION AS OF <snapshot>`` time
travel and system tables such as ``"t$snapshots"``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from typing import Any

import orjson
import pyarrow as pa

from persona.contracts import time_to_ms
from persona.localstack import StackSettings
from persona.paimon import PaimonWarehouse, decision_in_force, explanation_lines


def register(subparsers: Any) -> None:
    segments = subparsers.add_parser("segments", help="the current segment of a customer, and why")
    sub = segments.add_subparsers(dest="segments_command", metavar="SUBCOMMAND", required=True)
    show = sub.add_parser("show", help="the current marketing_segments row of a customer")
    show.add_argument("customer_id", type=int)
    show.set_defaults(func=run_show)
    explain = sub.add_parser("explain", help="the decision in force at a time, with its inputs and rule")
    explain.add_argument("customer_id", type=int)
    explain.add_argument("--at", default=None, help="ISO-8601 time with offset or Z (default: now)")
    explain.set_defaults(func=run_explain)

    sql = subparsers.add_parser("sql", help="run SQL over the Paimon warehouse (DataFusion)")
    sql.add_argument("query", help='e.g. "SELECT segment, count(*) FROM marketing_segments GROUP BY segment"')
    sql.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    sql.set_defaults(func=run_sql)


def _warehouse() -> PaimonWarehouse:
    # The local stack's warehouse (PERSONA_WAREHOUSE / PERSONA_HOME), wherever the command runs from.
    return PaimonWarehouse(StackSettings.from_env(os.environ).warehouse)


def _query(sql: str) -> pa.Table | None:
    try:
        return _warehouse().sql(sql)
    except Exception as error:
        print(f"persona: cannot read the warehouse: {error}", file=sys.stderr)
        return None


def format_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, list):
            return "[" + ", ".join(str(v) for v in value) + "]"
        return str(value)

    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)


def run_sql(args: argparse.Namespace) -> int:
    table = _query(args.query)
    if table is None:
        return 1
    rows = table.to_pylist()
    if args.json:
        for row in rows:
            print(orjson.dumps(row, default=str).decode())
    else:
        print(format_table(rows, table.column_names))
    return 0


def run_show(args: argparse.Namespace) -> int:
    rows = _query(f"SELECT * FROM marketing_segments WHERE customer_id = {int(args.customer_id)}")
    if rows is None:
        return 1
    found = rows.to_pylist()
    if not found:
        print(f"customer {args.customer_id}: no segment yet", file=sys.stderr)
        return 1
    print(format_table(found, rows.column_names))
    return 0


def run_explain(args: argparse.Namespace) -> int:
    at_ms = time_to_ms(args.at) if args.at else int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    try:
        row = decision_in_force(_warehouse(), int(args.customer_id), at_ms)
    except Exception as error:
        print(f"persona: cannot read the warehouse: {error}", file=sys.stderr)
        return 1
    if row is None:
        at = dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC).replace(tzinfo=None)
        print(f"customer {args.customer_id}: no decision at or before {at.isoformat()}Z", file=sys.stderr)
        return 1
    print(explain_text(row))
    return 0


def explain_text(row: dict[str, Any]) -> str:
    return "\n".join(explanation_lines(row))
