"""`persona segments show|at|explain` and `persona sql`: read the warehouse through pypaimon.

``show`` prints a customer's current ``marketing_segments`` row; ``at T`` the segments as the table
held them at T (Paimon time travel: the newest snapshot committed at or before T, or a tag), per
segment or one segment's customers, with the logic release in force then; ``explain`` the decision in
force at a time (the newest ``segment_decisions`` row of the customer decided at or before it — a
decision is in force from the moment it is made until the next one) with every input it used, on main
or a branch, or as the audit table stood at a tag (a release's, a branch's base) — main's from
``persona.paimon.explain``, which the console shares; ``sql`` runs any
query through pypaimon's embedded DataFusion engine, including ``VERSION AS OF <snapshot>`` time
travel and system tables such as ``"t$snapshots"``, or with ``--engine trino`` on the local Trino
over the Iceberg publication in Nessie (``--ref`` a Nessie branch or tag, ``--schema`` its namespace).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
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
    explain.add_argument("--branch", default="main", help="the branch whose audit to read (default: main)")
    explain.add_argument("--tag", default=None, help="read the audit table as it was at this tag")
    explain.set_defaults(func=run_explain)
    at = sub.add_parser("at", help="the segments as marketing_segments held them at a time (or a tag)")
    at.add_argument("time", help="ISO-8601 time with offset or Z")
    at.add_argument("--segment", default=None, help="list this segment's customers instead of the counts")
    at.add_argument("--branch", default="main", help="the branch to read (default: main)")
    at.add_argument("--tag", default=None, help="read this tag instead of the snapshot in force at the time")
    at.add_argument("--limit", type=int, default=100, help="customers listed with --segment (default 100)")
    at.set_defaults(func=run_at)

    sql = subparsers.add_parser(
        "sql", help="run SQL over the Paimon warehouse (DataFusion) or the Iceberg publication (Trino)"
    )
    sql.add_argument("query", help='e.g. "SELECT segment, count(*) FROM marketing_segments GROUP BY segment"')
    sql.add_argument(
        "--engine",
        choices=("datafusion", "trino"),
        default="datafusion",
        help="datafusion: embedded, over Paimon (default); trino: `stack up --with trino`, over Iceberg",
    )
    sql.add_argument("--ref", default="main", help="trino: the Nessie branch or tag to read (default: main)")
    sql.add_argument(
        "--history",
        action="store_true",
        help="trino: read main's publication history (the `history` catalog), where FOR VERSION AS OF "
        "<snapshot id | 'rfm-…' | 'release-…'> and FOR TIMESTAMP AS OF reach older publications",
    )
    sql.add_argument(
        "--schema", default=None, help="trino: the Iceberg namespace of unqualified tables (default: persona)"
    )
    sql.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    sql.set_defaults(func=run_sql)


# A Trino time-travel clause: on Nessie's catalog it fails for anything but the current snapshot.
_TIME_TRAVEL = re.compile(r"\bFOR\s+(VERSION|TIMESTAMP)\s+AS\s+OF\b", re.IGNORECASE)


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


def _trino_rows(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[str]] | None:
    from persona.localstack import StackError
    from persona.localstack.sqlengine import DEFAULT_SCHEMA
    from persona.localstack.sqlengine import run_sql as run_trino

    try:
        result = run_trino(
            StackSettings.from_env(os.environ),
            args.query,
            reference=args.ref,
            schema=args.schema or DEFAULT_SCHEMA,
            history=args.history,
        )
    except StackError as error:
        print(f"persona: trino: {error}", file=sys.stderr)
        if not args.history and _TIME_TRAVEL.search(args.query):
            print(
                "persona: Nessie's catalog serves only each table's current snapshot: add --history to "
                "read older publications (snapshot ids, tags, timestamps) from the history catalog",
                file=sys.stderr,
            )
        return None
    return list(result.rows), list(result.columns)


def run_sql(args: argparse.Namespace) -> int:
    if args.engine == "trino":
        found = _trino_rows(args)
        if found is None:
            return 1
        rows, columns = found
    else:
        if args.ref != "main" or args.schema is not None or args.history:
            print(
                "persona: --ref, --schema and --history are Trino's; the embedded engine reads Paimon branches as "
                "`table$branch_NAME` and tags with `VERSION AS OF`",
                file=sys.stderr,
            )
            return 2
        table = _query(args.query)
        if table is None:
            return 1
        rows, columns = table.to_pylist(), table.column_names
    if args.json:
        for row in rows:
            print(orjson.dumps(row, default=str).decode())
    else:
        print(format_table(rows, columns))
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


def _workspace() -> Any:
    from persona.logic import LogicWorkspace
    from persona.settings import PipelineSettings

    return LogicWorkspace(PipelineSettings.from_env(os.environ))


def _release_line(ws: Any, at_ms: int) -> str:
    try:
        release = ws.release_at(at_ms)
    except Exception:  # a warehouse without a logic store: nothing was ever released
        release = None
    if release is None:
        return "logic in force: v1 (built in; no release yet)"
    return (
        f"logic in force: {release.logic_version} (release {release.release} from {release.branch}, "
        f"{release.tag}, by {release.released_by}: {release.reason})"
    )


def run_at(args: argparse.Namespace) -> int:
    at_ms = time_to_ms(args.time)
    ws = _workspace()
    try:
        ws.require_branch(args.branch)
        name = ws.segments_table if args.branch == "main" else f"{ws.segments_table}$branch_{args.branch}"
        if args.tag is None:
            snapshot = ws.snapshot_at(name, at_ms)
            if snapshot is None:
                print(f"{name}: no snapshot committed at or before {args.time}", file=sys.stderr)
                return 1
            source = f"{name} snapshot {snapshot} (the newest committed at or before {args.time})"
        else:
            source = f"{name} tag {args.tag}"
        segments = ws.segments(args.branch, at_ms if args.tag is None else None, args.tag)
    except Exception as error:
        print(f"persona: {error}", file=sys.stderr)
        return 1
    print(source)
    print(_release_line(ws, at_ms))
    if args.segment is not None:
        members = sorted(c for c, seg in segments.items() if seg == args.segment)
        shown = members[: args.limit]
        print(f"{args.segment}: {len(members)} customers")
        for customer in shown:
            print(customer)
        if len(members) > len(shown):
            print(f"... {len(members) - len(shown)} more (--limit)")
        return 0
    counts: dict[str, int] = {}
    for seg in segments.values():
        counts[seg] = counts.get(seg, 0) + 1
    print(
        format_table(
            [{"segment": k, "customers": v} for k, v in sorted(counts.items())], ["segment", "customers"]
        )
    )
    return 0


def run_explain(args: argparse.Namespace) -> int:
    at_ms = time_to_ms(args.at) if args.at else int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    if args.branch != "main" or args.tag is not None:
        ws = _workspace()
        try:
            ws.require_branch(args.branch)
            found = ws.explanations(args.branch, [int(args.customer_id)], at_ms, args.tag).get(
                int(args.customer_id)
            )
        except Exception as error:
            print(f"persona: {error}", file=sys.stderr)
            return 1
        if found is None:
            print(
                f"customer {args.customer_id}: no decision at or before {args.at or 'now'}", file=sys.stderr
            )
            return 1
        print(explain_text(found))
        print(f"  {_release_line(ws, at_ms)}")
        return 0
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
    print(f"  {_release_line(_workspace(), at_ms)}")
    return 0


def explain_text(row: dict[str, Any]) -> str:
    return "\n".join(explanation_lines(row))
