"""`persona bench`: sustained throughput and end-to-end freshness of the three flows on the stack.

The engine is ``persona.benchkit``; this module parses options, prints the summary and writes the
JSON report (and, with ``--plots``, PNG plots). The last line printed is exactly
``throughput_eps=N p99_rt_s=X p99_paimon_s=Y``. What the options mean at length: docs/bench.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from persona.benchkit.config import FULL, QUICK, BenchConfig, plan_run
from persona.benchkit.flow_specs import FLOW_NAMES
from persona.benchkit.stats import report_line

# Where the timeline plot's series come from (docs/bench.md, "Plots").
PLOT_SOURCES = ("bench", "prometheus")

EPILOG = (
    "tuning: --commit-interval S, --enrich-epoch S, --partitions N, --step-seconds S.\n"
    "Core pinning, warm-up and settling, step mode and the report: docs/bench.md"
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="sustained throughput and freshness of the flows on the local stack",
        usage="persona bench [options]",
        epilog=EPILOG,
        formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(prog, max_help_position=32),
    )
    add = parser.add_argument
    add("--quick", action="store_true", help="smaller data, shorter run (< 3 minutes)")
    add("--customers", type=int, metavar="N", help=f"default {FULL.customers:,} (quick: {QUICK.customers:,})")
    add("--skus", type=int, metavar="N", help=f"default {FULL.skus:,} (quick: {QUICK.skus:,})")
    add("--rate", type=float, metavar="R", help=f"records/s offered (default {FULL.rate:,.0f}; 0: unpaced)")
    add("--warmup", type=float, metavar="S", help=f"load before measuring (default {_quick('warmup_s')})")
    add(
        "--seconds",
        type=float,
        metavar="S",
        dest="measure_s",
        help=f"measured (default {_quick('measure_s')})",
    )
    add("--step-rate", metavar="START,FACTOR,MAX", help="step mode: the highest rate held")
    add(
        "--settle-max",
        type=float,
        metavar="S",
        help=f"wait for the flows to catch up (default {FULL.settle_max_s:.0f})",
    )
    add("--shared-cores", action="store_true", help="no core of its own for enrich")
    add(
        "--enrich-processes",
        type=int,
        metavar="N",
        default=1,
        help="run twice, enrich as 1 process and then as a cluster of N, cores shared; compare",
    )
    add("--profile", type=Path, metavar="FILE", help="py-spy collapsed stacks of the measured window")
    add(
        "--profile-flow",
        choices=FLOW_NAMES,
        metavar="FLOW",
        help=f"which flow: {', '.join(FLOW_NAMES)} (default {FULL.profile_flow})",
    )
    add("--plots", type=Path, metavar="DIR", help="write PNG plots into DIR")
    add(
        "--plots-from",
        choices=PLOT_SOURCES,
        default="bench",
        metavar="SOURCE",
        help="the timeline's series: bench (its own read-back and /proc) or prometheus (the flows' "
        "metrics in the stack's Prometheus, also kept in the report); default bench",
    )
    add(
        "--metrics-overhead",
        action="store_true",
        help="instead: enrich's per-record work with metrics on and off, alternating (their ratio)",
    )
    add(
        "--out",
        type=Path,
        metavar="DIR",
        default=Path("bench/out"),
        help="the JSON report's directory (bench/out)",
    )
    add("--keep", action="store_true", help="keep the run's warehouse and state")
    add("--step-seconds", type=float, help=argparse.SUPPRESS)
    add("--commit-interval", type=float, help=argparse.SUPPRESS)
    add("--enrich-epoch", type=float, help=argparse.SUPPRESS)
    add("--partitions", type=int, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def _quick(name: str) -> str:
    """A duration's default, full size and with --quick."""
    return f"{getattr(FULL, name):.0f} s, quick {getattr(QUICK, name):.0f}"


def _config(args: argparse.Namespace) -> BenchConfig:
    return plan_run(
        quick=args.quick,
        step_rate=args.step_rate,
        customers=args.customers,
        skus=args.skus,
        rate=args.rate,
        warmup_s=args.warmup,
        measure_s=args.measure_s,
        step_s=args.step_seconds,
        commit_interval=args.commit_interval,
        enrich_epoch=args.enrich_epoch,
        partitions=args.partitions,
        profile=args.profile,
        profile_flow=args.profile_flow,
        keep=args.keep,
        # A cluster's processes share the cores: both runs of a comparison do, so they compare.
        enrich_core=not args.shared_cores and args.enrich_processes <= 1,
        settle_max_s=args.settle_max,
    )


def _metrics_overhead(args: argparse.Namespace) -> int:
    """bench/metrics_overhead_interleaved.py (it runs the enrich flow's code, which no tool imports):
    enrich's per-record work with the OpenTelemetry instruments on and off, alternating batch by batch in
    one process (the neighbours of a shared machine weigh on both sides alike), five rounds."""
    import subprocess

    from persona.localstack import StackSettings

    root = StackSettings.from_env(os.environ).repo_root
    script = None if root is None else root / "bench" / "metrics_overhead_interleaved.py"
    if script is None or not script.exists():
        print(
            "bench: --metrics-overhead runs bench/metrics_overhead_interleaved.py of a checkout",
            file=sys.stderr,
        )
        return 1
    customers = args.customers or 10_000
    command = [sys.executable, str(script), str(customers), str(8 * customers), "5"]
    return subprocess.run(command, check=False).returncode


def run(args: argparse.Namespace) -> int:
    if args.metrics_overhead:
        return _metrics_overhead(args)
    from persona.benchkit.harness import run_bench
    from persona.benchkit.prom_reader import read_report_series
    from persona.benchkit.summary import scaling_lines, summary_lines
    from persona.localstack import StackError, StackSettings
    from persona.settings import configure_logging

    configure_logging()
    if args.enrich_processes < 1:
        print("bench: --enrich-processes must be at least 1", file=sys.stderr)
        return 2
    cfg = _config(args)
    started = time.monotonic()
    # With --enrich-processes N > 1: one run with a single enrich process, then one with N.
    plans = (
        [cfg] if args.enrich_processes == 1 else [cfg, replace(cfg, enrich_processes=args.enrich_processes)]
    )
    reports = []
    for plan in plans:
        try:
            report = run_bench(plan)
        except StackError as error:  # the stack could not be used: a message, as `demo` and `stack` give
            print(f"bench: {error}", file=sys.stderr)
            return 1
        unread: StackError | None = None
        if args.plots_from == "prometheus":
            try:
                report.prometheus = read_report_series(StackSettings.from_env(os.environ), report)
            except StackError as error:  # the run's report is still written, without those series
                unread = error
        reports.append(report)
        data = report.to_json()
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"bench-{report.tag}.json"
        path.write_text(json.dumps(data, indent=1, default=str))
        for line in summary_lines(report, plan):
            print(line)
        if unread is not None:
            print(f"bench: --plots-from prometheus: {unread}\nreport (without them): {path}", file=sys.stderr)
            return 1
    if len(reports) > 1:
        for line in scaling_lines(reports[0], reports[-1], args.enrich_processes):
            print(line)
    if cfg.profile is not None and cfg.profile.exists():
        from persona.benchkit.profile import summarize

        top = cfg.profile.with_suffix(".top.txt")
        top.write_text(summarize(cfg.profile, limit=30) + "\n")
        print(f"{cfg.profile_flow} profile (py-spy, measured window): {cfg.profile}; summary {top}")
    if args.plots is not None:
        from persona.benchkit.plots import plot_report

        for p in plot_report(data, args.plots, f"bench-{report.tag}", args.plots_from):
            print(f"plot: {p}")
    print(f"report: {path} ({time.monotonic() - started:.0f}s in all)")
    main = report.main
    print(report_line(main.throughput_eps, main.rt_p99_s, main.paimon_p99_s))
    sys.stdout.flush()
    return 0
