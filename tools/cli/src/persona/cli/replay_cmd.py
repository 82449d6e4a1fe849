"""`persona replay`: run logic v1 over JSON-lines files (the engine is persona.replay)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from persona.decisions import LogicV1Config
from persona.replay import run_replay
from persona.settings.registry import time_window


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay events and order changes through the segment decision (backtest)",
        description=(
            "Merge events and Debezium order changes by time, decide every valid event with fixed "
            "profiles and inventory, and write one JSON line per decision. Invalid lines go to --dlq "
            "(or are counted on stderr) and never stop the run."
        ),
    )
    parser.add_argument("--events", required=True, type=Path, help="behavior_events JSON lines")
    parser.add_argument(
        "--orders", required=True, type=Path, help="orders_cdc Debezium envelopes, JSON lines"
    )
    parser.add_argument("--profiles", required=True, type=Path, help="customer_profile rows, JSON lines")
    parser.add_argument("--inventory", required=True, type=Path, help="inventory_projection rows, JSON lines")
    parser.add_argument("--out", required=True, type=Path, help="decisions output, JSON lines")
    parser.add_argument("--dlq", type=Path, default=None, help="dead-letter output for invalid lines")
    parser.add_argument("--audit", type=Path, default=None, help="also write the decision audit records here")
    parser.add_argument(
        "--logic-version", default=None, help="label the decisions with this logic version (default v1)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    inputs = {"--events": args.events, "--orders": args.orders, "--profiles": args.profiles}
    inputs["--inventory"] = args.inventory
    missing = [f"{flag} {path}" for flag, path in inputs.items() if not Path(path).is_file()]
    if missing:
        print(f"replay: input file not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    config = (
        LogicV1Config() if args.logic_version is None else LogicV1Config(logic_version=args.logic_version)
    )
    stats = run_replay(
        args.events,
        args.orders,
        args.profiles,
        args.inventory,
        args.out,
        args.dlq,
        config,
        audit_path=args.audit,
        window=time_window(os.environ),  # PERSONA_TIME_MIN / PERSONA_TIME_MAX_AHEAD, as the flows
    )
    print(f"replay: {stats.summary()}")
    return 0
