"""`persona chaos`: the fault matrix on the local stack (docs/reliability.md).

Each row injects one fault while the three flows run under load, drains, and checks the invariants
against ``persona replay`` over the same input. The flows run under the supervisor `persona run`
uses (``persona.cli.run_cmd.build_supervisor``), one per flow. Prints the table (``--json``: the results as JSON);
exits 1 when any row fails an invariant.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from persona.chaos.rows import QUICK, ROWS, row_names, select


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "chaos",
        help="the fault matrix: faults injected under load, invariants checked against replay",
        epilog="rows: " + ", ".join(f"{r.name} ({r.what})" for r in ROWS),
    )
    add = parser.add_argument
    add("--quick", action="store_true", help=f"a representative subset, CI-sized: {', '.join(QUICK)}")
    add("--only", metavar="ROW", nargs="+", choices=row_names(), default=[], help="just these rows")
    add(
        "--records",
        type=int,
        metavar="N",
        help="records of the main stream per row (default 1,500; quick 800)",
    )
    add("--seed", type=int, default=17, help="the input's and the fault moments' seed (default 17)")
    add("--json", action="store_true", help="print the results as JSON instead of the table")
    add("--keep", action="store_true", help="keep each row's files under $PERSONA_HOME/chaos")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from persona.chaos.harness import ChaosConfig, run_matrix
    from persona.chaos.table import render
    from persona.cli.run_cmd import build_supervisor
    from persona.localstack import StackError, StackSettings, up
    from persona.localstack.supervisor import Supervisor

    def supervisor_of(name: str, flow_env: Mapping[str, str], state_dir: Path) -> Supervisor:
        """A row's flow, supervised as `persona run <name>` would run it with the row's settings."""
        return build_supervisor(name, os.environ, flow_env=flow_env, state_dir=state_dir)

    rows = select(quick=args.quick, only=args.only)
    cfg = ChaosConfig(seed=args.seed, keep=args.keep)
    records = args.records or (800 if args.quick else None)
    if records:
        cfg = replace(cfg, size=replace(cfg.size, records=records))
    stack = StackSettings.from_env(os.environ)
    started = time.monotonic()
    try:
        up(stack)
        results = run_matrix(stack, rows, cfg, supervisor_of)
    except StackError as error:
        print(f"chaos: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([r.to_json() for r in results], indent=1))
    else:
        print(render(results))
        print(f"{sum(r.ok for r in results)}/{len(results)} rows passed in {time.monotonic() - started:.0f}s")
    sys.stdout.flush()
    return 0 if all(r.ok for r in results) else 1
