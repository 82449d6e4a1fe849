"""`persona stack up [--with trino] | down [--wipe] | status | logs SERVICE [-n N] [-f] | init`: the local
real services.

Kafka (KRaft, one node) and Cassandra run as detached JVMs under ``$PERSONA_HOME`` (default
``<repo>/.persona``); the Paimon warehouse is a directory there. Failures the user can act on are
printed as one message without a traceback, with a non-zero exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from persona.localstack import (
    ALL_SERVICES,
    OPTIONAL_SERVICES,
    InitReport,
    ServiceStatus,
    StackError,
    StackSettings,
    down,
    init_schema,
    log_file,
    paimon_table_presence,
    status,
    up,
)
from persona.localstack.procs import tail_lines


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "stack",
        help="run the local stack (Kafka, Cassandra, MariaDB, Connect, Prometheus) and bootstrap its schema",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="stack_action", metavar="ACTION", required=True)

    up_parser = actions.add_parser("up", help="start what is not running, wait until healthy, run init")
    up_parser.add_argument(
        "--timeout", type=float, default=180.0, help="seconds to wait for health (default 180)"
    )
    up_parser.add_argument(
        "--with",
        dest="with_services",
        action="append",
        default=[],
        choices=OPTIONAL_SERVICES,
        help="also start an optional service: trino (SQL over the Iceberg publication on Nessie)",
    )
    up_parser.set_defaults(func=_guarded(_run_up))

    down_parser = actions.add_parser("down", help="stop the services (data is kept)")
    down_parser.add_argument(
        "--wipe", action="store_true", help="also delete Kafka/Cassandra data, logs and the local warehouse"
    )
    down_parser.set_defaults(func=_guarded(_run_down))

    status_parser = actions.add_parser("status", help="protocol-level health of each service")
    status_parser.set_defaults(func=_guarded(_run_status))

    logs_parser = actions.add_parser("logs", help="print (or follow) a service's log")
    logs_parser.add_argument("service", choices=ALL_SERVICES)
    logs_parser.add_argument("-n", "--lines", type=int, default=50, help="how many last lines (default 50)")
    logs_parser.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs_parser.set_defaults(func=_guarded(_run_logs))

    init_parser = actions.add_parser("init", help="create missing topics, keyspace and tables")
    init_parser.set_defaults(func=_guarded(_run_init))


def _guarded(
    action: Callable[[argparse.Namespace, StackSettings], int],
) -> Callable[[argparse.Namespace], int]:
    """Build settings from the environment and turn a StackError into a message and exit code 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            return action(args, StackSettings.from_env(os.environ))
        except StackError as error:
            print(f"persona stack: {error}", file=sys.stderr)
            return 1
        except BrokenPipeError:
            # Output piped into e.g. `head`, which stopped reading: not an error. Pointing stdout at
            # /dev/null keeps the interpreter's final flush from raising again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0

    return run


def _run_up(args: argparse.Namespace, settings: StackSettings) -> int:
    report = up(settings, timeout=args.timeout, with_services=tuple(dict.fromkeys(args.with_services)))
    for service in report.started:
        print(f"{service}: started")
    for service in report.already_running:
        print(f"{service}: already running")
    if report.init is not None:
        _print_init(report.init)
    print(
        f"stack is up in {max(report.timings.values(), default=0.0):.1f} s: "
        f"kafka {settings.kafka_bootstrap}, cassandra {settings.cassandra_contact[0]}:"
        f"{settings.cassandra_contact[1]}, mariadb 127.0.0.1:{settings.mariadb_port} "
        f"(database {settings.crm_database}), prometheus {settings.prometheus_url}, "
        f"warehouse {settings.warehouse}"
        + (f", trino {settings.trino_url}" if "trino" in args.with_services else "")
    )
    return 0


def _run_down(args: argparse.Namespace, settings: StackSettings) -> int:
    for service, outcome in down(settings, wipe=args.wipe).items():
        print(f"{service}: {outcome}")
    return 0


def _run_init(args: argparse.Namespace, settings: StackSettings) -> int:
    _print_init(init_schema(settings))
    return 0


def _print_init(report: InitReport) -> None:
    for name in report.created:
        print(f"created  {name}")
    for name in report.existing:
        print(f"exists   {name}")
    print(f"init: {len(report.created)} created, {len(report.existing)} already present")


def format_status_table(statuses: Sequence[ServiceStatus]) -> str:
    header = ("SERVICE", "PORT", "PID", "HEALTH", "DETAIL")
    rows = [
        (
            s.name,
            str(s.port),
            str(s.pid) if s.pid is not None else "-",
            "healthy" if s.healthy else "DOWN",
            s.detail,
        )
        for s in statuses
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    lines = []
    for row in (header, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, row[-1]]))
    return "\n".join(lines)


def _run_status(args: argparse.Namespace, settings: StackSettings) -> int:
    statuses = status(settings)
    print(format_status_table(statuses))
    presence = paimon_table_presence(settings.warehouse)
    print(f"\npaimon warehouse {settings.warehouse}")
    for table, present in presence.items():
        print(f"  {table.ljust(max(map(len, presence)))}  {'present' if present else 'MISSING'}")
    healthy = all(s.healthy for s in statuses)
    if not healthy:
        print("\nnot healthy: `persona stack up` starts what is down; `persona stack logs SERVICE` shows why")
    elif not all(presence.values()):
        print("\ntables missing: run `persona stack init`")
    return 0 if healthy and all(presence.values()) else 1


def _run_logs(args: argparse.Namespace, settings: StackSettings) -> int:
    path = log_file(settings, args.service)
    if not path.exists() and not args.follow:
        raise StackError(f"no log yet at {path}: {args.service} has not been started from {settings.home}")
    for line in tail_lines(path, args.lines):
        print(line)
    if args.follow:
        try:
            _follow(path)
        except KeyboardInterrupt:
            return 0
    return 0


def _follow(path: Path, poll_interval: float = 0.5) -> None:
    """Print lines appended to ``path`` until interrupted; starts over when it is recreated (wipe)."""
    position = path.stat().st_size if path.exists() else 0
    identity = path.stat().st_ino if path.exists() else None
    while True:
        try:
            stat = path.stat()
        except FileNotFoundError:
            time.sleep(poll_interval)
            continue
        if stat.st_ino != identity or stat.st_size < position:
            identity, position = stat.st_ino, 0
        if stat.st_size > position:
            with path.open("rb") as handle:
                handle.seek(position)
                chunk = handle.read()
            position += len(chunk)
            sys.stdout.write(chunk.decode(errors="replace"))
            sys.stdout.flush()
        time.sleep(poll_interval)
