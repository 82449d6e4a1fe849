"""`persona` command line: one sub-command module per command group.

Each module in COMMAND_MODULES exposes ``register(subparsers)``, which adds its parser(s) and sets
``func`` (a callable taking the parsed namespace and returning an exit code).

Every command runs with umask 077 (what it creates is the user's alone: state, warehouse and logs
hold customer data), and however it ends (an error, Ctrl-C, SIGTERM) the flow processes it started
are stopped before it exits.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from persona.localstack import StackError, StackSettings
from persona.localstack.procs import PRIVATE_UMASK, make_home_private
from persona.localstack.runner import started_flows, stop_started_flows
from persona.settings import configure_logging

log = logging.getLogger(__name__)

COMMAND_MODULES = (
    "persona.cli.stack_cmd",
    "persona.cli.run_cmd",
    "persona.cli.replay_cmd",
    "persona.cli.segments_cmd",
    "persona.cli.logic_cmd",
    "persona.cli.publish_cmd",
    "persona.cli.generate_cmd",
    "persona.cli.crm_cmd",
    "persona.cli.rfm_cmd",
    "persona.cli.demo_cmd",
    "persona.cli.bench_cmd",
    "persona.cli.chaos_cmd",
    "persona.cli.governance_cmd",
    "persona.cli.console_cmd",
)

# The commands that keep state under PERSONA_HOME: an existing home of theirs that other users can
# read is closed before they run.
STATEFUL_COMMANDS = frozenset({"stack", "run", "demo", "bench"})


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is, so a command ends as on Ctrl-C: its ``finally``
    blocks run and its flows are stopped (a KeyboardInterrupt, so ``except Exception`` skips it)."""


def _terminate(signum: int, _frame: object) -> None:
    raise Terminated(signum)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="persona",
        description="persona: real-time marketing personalization pipeline",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _close_home() -> None:
    # A malformed setting is the command's own error to report, in its own words.
    with contextlib.suppress(StackError):
        stack = StackSettings.from_env(os.environ)
        make_home_private(stack.home)


def main(argv: Sequence[str] | None = None) -> int:
    # Before anything is created, so nothing is created readable by others.
    previous_umask = os.umask(PRIVATE_UMASK)
    try:
        return _run(argv)
    finally:
        os.umask(previous_umask)  # for a caller that runs main in-process (the tests)


def _run(argv: Sequence[str] | None) -> int:
    # Progress and diagnostics are log lines on stderr; a command's result goes to stdout.
    configure_logging()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in STATEFUL_COMMANDS:
        _close_home()
    running_before = started_flows()  # a caller's own flows (tests call main in-process) are not ours
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        code: int = args.func(args)
    except Terminated:
        print("terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        stopped = stop_started_flows(keep=running_before)
        if stopped:
            log.warning("stopped the flow processes still running at exit: %s", ", ".join(stopped))
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    return code


if __name__ == "__main__":
    sys.exit(main())
