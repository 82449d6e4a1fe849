"""`persona console`: the web console on 127.0.0.1 (see persona.console and the README's "Console")."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from persona.console import ConsoleConfig, serve
from persona.settings import SettingsError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "console", help="the web console: segments, freshness, lag, dead letters, customer search"
    )
    parser.add_argument(
        "--port", type=int, default=None, help="port on 127.0.0.1 (default: PERSONA_CONSOLE_PORT, 8050)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = ConsoleConfig.from_env(os.environ, port=args.port)
    except SettingsError as error:
        print(f"console: {error}", file=sys.stderr)
        return 1
    print(f"persona console on {config.url} — Ctrl-C to stop", flush=True)
    serve(config)
    return 0
