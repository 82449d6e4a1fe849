"""`persona` command line: one sub-command module per command group.

Each module in COMMAND_MODULES exposes ``register(subparsers)``, which adds its parser(s) and sets
``func`` (a callable taking the parsed namespace and returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from persona.settings import configure_logging

COMMAND_MODULES = (
    "persona.cli.stack_cmd",
    "persona.cli.replay_cmd",
    "persona.cli.segments_cmd",
    "persona.cli.generate_cmd",
    "persona.cli.demo_cmd",
    "persona.cli.bench_cmd",
    "persona.cli.chaos_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="persona",
        description="persona: real-time marketing personalization pipeline",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Progress and diagnostics are log lines on stderr; a command's result goes to stdout.
    configure_logging()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
