"""`persona publish [--tables T,…] [--branch B] [--snapshot N | --tag T] [--follow-rfm-tags]`: the Paimon
tables published as Iceberg tables into Nessie (README "The Iceberg publication"). The work is
``persona.publish``'s; this module parses arguments and prints."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from persona.publish import PUBLISHED_TABLES, Publisher, PublishError, PublishSettings, parse_tables
from persona.publish.plan import MAIN


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "publish", help="publish the Paimon tables as Iceberg tables into Nessie (idempotent)"
    )
    parser.add_argument(
        "--tables",
        default=None,
        help=f"comma-separated, from {','.join(PUBLISHED_TABLES)} (default: all three)",
    )
    parser.add_argument(
        "--branch", default=MAIN, help="the Paimon branch, published onto the Nessie branch of that name"
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--snapshot", type=int, default=None, help="this Paimon snapshot (one table only)")
    which.add_argument(
        "--tag",
        default=None,
        help="each table at this Paimon tag (its latest snapshot when it has none), then a Nessie tag of the name",
    )
    which.add_argument(
        "--follow-rfm-tags",
        action="store_true",
        help="publish every nightly rfm-YYYYMMDD tag of customer_profile Nessie lacks, each tagged alike",
    )
    parser.set_defaults(func=run_publish)


def run_publish(args: argparse.Namespace) -> int:
    try:
        tables = parse_tables(args.tables)
        publisher = Publisher(PublishSettings.from_env(os.environ))
        if args.follow_rfm_tags:
            reports = publisher.follow_rfm_tags()
            if not reports:
                print("nessie: every rfm tag of customer_profile is published")
        else:
            reports = [publisher.publish(tables, args.branch, snapshot=args.snapshot, tag=args.tag)]
    except (PublishError, ValueError) as error:
        print(f"persona publish: {error}", file=sys.stderr)
        return 1
    for report in reports:
        for line in report.lines():
            print(line)
    return 0
