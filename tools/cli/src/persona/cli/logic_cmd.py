"""`persona logic branch|replay|diff|merge|log`: versioned decision logic (DESIGN §6, README "Logic
versions"). The work is ``persona.logic``'s; this module parses arguments and prints.

Every step that also concerns the versioned catalog (Nessie) goes through
``persona.logic.catalog.CatalogBranches`` (``persona.publish``'s): ``branch`` creates the Nessie branch,
``replay`` publishes the replayed branch's tables onto it (so Trino ``--ref NAME`` reads the dry run),
``merge`` publishes the branch's tables, merges its Nessie branch into main and tags the release, ``log``
shows main's Nessie commits. With PERSONA_PUBLICATION=off each such step says that only Paimon was done.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from pathlib import Path
from typing import Any

from persona.contracts import time_to_ms
from persona.logic import LogicError, LogicWorkspace, diff_segments, format_diff, load_catalog_branches
from persona.paimon.branches import MAIN
from persona.settings import PipelineSettings

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    logic = subparsers.add_parser("logic", help="branch, replay, diff, merge and log logic versions")
    sub = logic.add_subparsers(dest="logic_command", metavar="SUBCOMMAND", required=True)

    branch = sub.add_parser("branch", help="branch the decided tables and the logic store together")
    branch.add_argument("name")
    branch.add_argument("--from", dest="from_branch", default=MAIN, help="the origin branch (default: main)")
    branch.set_defaults(func=run_branch)

    replay = sub.add_parser("replay", help="re-decide retained history with a logic version into a branch")
    replay.add_argument("name", help="the branch")
    replay.add_argument("--logic", required=True, help="the logic version (v1, v2, or one the branch stores)")
    replay.add_argument(
        "--since",
        default=None,
        help="decide events from this ISO-8601 time on (earlier ones only build state)",
    )
    replay.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to read the topics (default 600)"
    )
    replay.set_defaults(func=run_replay)

    diff = sub.add_parser("diff", help="segments of branch A against branch B")
    diff.add_argument("a")
    diff.add_argument("b")
    diff.add_argument("--at", default=None, help="as of this ISO-8601 time (time travel); default: now")
    diff.add_argument("--samples", type=int, default=5, help="changed customers to explain (default 5)")
    diff.add_argument("--plot", type=Path, default=None, help="also draw counts and overlap to this PNG")
    diff.set_defaults(func=run_diff)

    merge = sub.add_parser("merge", help="make a branch's logic version live on main, and tag the release")
    merge.add_argument("name")
    merge.add_argument("--reason", required=True, help="why (recorded with who and when)")
    merge.add_argument("--by", default=None, help="who (default: the OS user)")
    merge.set_defaults(func=run_merge)

    history = sub.add_parser("log", help="logic versions, releases, and each branch's active version")
    history.set_defaults(func=run_log)


def _workspace() -> LogicWorkspace:
    return LogicWorkspace(PipelineSettings.from_env(os.environ))


def _at(text: str | None) -> int | None:
    return None if text is None else time_to_ms(text)


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _fail(error: Exception) -> int:
    print(f"persona logic: {error}", file=sys.stderr)
    return 1


def _catalog_note() -> tuple[Any, str]:
    return load_catalog_branches(os.environ)


def run_branch(args: argparse.Namespace) -> int:
    ws = _workspace()
    try:
        started = ws.create_branch(args.name, args.from_branch)
    except Exception as error:
        return _fail(error)
    for table, snapshot in started.items():
        origin = "empty" if snapshot is None else f"snapshot {snapshot}"
        print(f"paimon: {table} branch {args.name} from {args.from_branch} ({origin})")
    catalog, note = _catalog_note()
    if catalog is None:
        print(f"{note}: no catalog branch {args.name} was created")
        return 0
    try:
        print(f"nessie: {catalog.create_branch(args.name, args.from_branch)}")
    except Exception as error:
        print(
            f"persona logic: the Paimon branches are made, the Nessie branch is not: {error}\n"
            f"  when Nessie is up: `persona publish --branch {args.name}` creates it and publishes the branch",
            file=sys.stderr,
        )
        return 1
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from persona.logic.sources import cassandra_stock, read_retained

    ws = _workspace()
    try:
        logic = (
            ws.store.resolve(args.logic, args.name)
            if ws.branches.exists(ws.store.versions_table, args.name)
            else None
        )
        if logic is None:
            ws.require_branch(args.name)
            return 1
        retained = read_retained(ws.settings, args.timeout)
        report = ws.replay(args.name, logic, retained, cassandra_stock(ws.settings), since_ms=_at(args.since))
    except Exception as error:
        return _fail(error)
    print(
        f"replayed {report.events} events and {report.orders} order changes (invalid {report.invalid}) with "
        f"logic {report.logic_version} into branch {report.branch}: {report.decisions} decisions for "
        f"{report.customers} customers (duplicates {report.duplicates}), profiles {report.profile_label}, "
        f"{report.seconds:.1f}s; main is untouched"
    )
    return _publish_replayed(args.name)


def _publish_replayed(branch: str) -> int:
    """The replayed branch's tables published onto its Nessie branch (PERSONA_PUBLICATION=on), so a
    catalog reader (Trino ``--ref BRANCH``) sees the dry run; a failure says the replay itself is done."""
    catalog, note = _catalog_note()
    if catalog is None:
        print(f"{note}: branch {branch} was not published")
        return 0
    log.info("publishing branch %s onto Nessie (%s)", branch, catalog.name)
    try:
        lines = catalog.publish(branch)
    except Exception as error:
        print(
            f"persona logic: the replay into branch {branch} succeeded (its Paimon tables hold the decisions); "
            f"publishing them to Nessie failed: {error}\n"
            f"  when Nessie is up: `persona publish --branch {branch}`",
            file=sys.stderr,
        )
        return 1
    for line in lines:
        print(line)
    return 0


def run_diff(args: argparse.Namespace) -> int:
    ws = _workspace()
    at_ms = _at(args.at)
    try:
        a = ws.segments(args.a, at_ms)
        b = ws.segments(args.b, at_ms)
    except Exception as error:
        return _fail(error)
    diff = diff_segments(a, b, args.samples)
    when = "now" if at_ms is None else f"as of {_iso(at_ms)}"
    print(f"{args.a} -> {args.b}, {when}")
    print(format_diff(diff, args.a, args.b))
    if diff.samples:
        customers = [c for c, _, _ in diff.samples]
        why_a = ws.explanations(args.a, customers, at_ms)
        why_b = ws.explanations(args.b, customers, at_ms)
        print("")
        print("samples")
        for customer, sa, sb in diff.samples:
            print(f"customer {customer}: {sa} -> {sb}")
            for name, why in ((args.a, why_a.get(customer)), (args.b, why_b.get(customer))):
                print(f"  {name}: {_explain(why)}")
    if args.plot is not None:
        from persona.logic.plot import plot_diff

        plot_diff(diff, args.a, args.b, args.plot)
        print(f"plot: {args.plot}")
    return 0


def _explain(row: dict[str, Any] | None) -> str:
    if row is None:
        return "no decision recorded"
    channel = row.get("channel_preference")
    return (
        f"{row['segment']} by {row['rule']} (logic {row['logic_version']}; event {row['event_id']} at "
        f"{row['event_time']}; profile {row['profile_segment']} {row['profile_tag'] or row['profile_snapshot']}; "
        f"effective recency {row['effective_recency']}, frequency {row['effective_frequency']}"
        + ("" if channel is None else f"; channel preference {channel}")
        + ")"
    )


def run_merge(args: argparse.Namespace) -> int:
    ws = _workspace()
    try:
        report = ws.merge(args.name, reason=args.reason, by=args.by)
    except (LogicError, KeyError) as error:
        return _fail(error)
    release = report.release
    print(
        f"release {release.release}: logic {release.logic_version} from branch {report.branch} is live on main "
        f"(by {release.released_by} at {_iso(release.released_at_ms)}: {release.reason})"
    )
    for table, tag in report.tags.items():
        print(f"paimon: tagged {table} {tag}")
    print(
        "the enrich flow takes the release within PERSONA_PROFILE_REFRESH and re-decides the customers it holds"
    )
    catalog, note = _catalog_note()
    if catalog is None or release.tag is None:
        print(f"{note}: no catalog merge or tag was done")
        return 0
    message = (
        f"persona logic merge {args.name}: release {release.release} {release.tag} "
        f"(logic {release.logic_version}) by {release.released_by}: {release.reason}"
    )
    try:
        for line in catalog.merge(args.name, MAIN, message).splitlines():
            # The publication's own lines name their Nessie branch already ("nessie mkt-v2: ...").
            print(line if line.startswith("nessie") else f"nessie: {line}")
        print(f"nessie: {catalog.tag(release.tag, MAIN)}")
    except Exception as error:
        print(
            f"persona logic: the release is made in Paimon; the Nessie merge failed: {error}\n"
            f"  when Nessie is up: `persona publish --branch {args.name}`, then merge its Nessie branch "
            f"into main and tag it {release.tag} (`nessie merge`, `nessie tag`)",
            file=sys.stderr,
        )
        return 1
    return 0


def run_log(args: argparse.Namespace) -> int:
    ws = _workspace()
    try:
        versions, releases, active = ws.history()
    except Exception as error:
        return _fail(error)
    print("logic versions on main:")
    if not versions:
        print("  (none stored; main runs the built-in v1)")
    for row in versions:
        print(
            f"  {row['name']}: rules {row['rules']}, by {row['created_by']} at {row['created_at']} — {row['description']}"
        )
    print("releases on main:")
    if not releases:
        print("  (none)")
    for r in releases:
        print(
            f"  {r.release}: {r.logic_version} from {r.branch} by {r.released_by} at {_iso(r.released_at_ms)}"
            f" tag {r.tag}: {r.reason}"
        )
    print("active: " + ", ".join(f"{name}={version}" for name, version in sorted(active.items())))
    catalog, note = _catalog_note()
    if catalog is None:
        print(note)
        return 0
    try:
        for branch in [MAIN, *sorted(b for b in active if b != MAIN)]:
            print(f"nessie {branch}:")
            for line in catalog.history(branch, 10):
                print(f"  {line}")
    except Exception as error:
        print(f"persona logic: the Nessie side cannot be read: {error}", file=sys.stderr)
        return 1
    return 0
