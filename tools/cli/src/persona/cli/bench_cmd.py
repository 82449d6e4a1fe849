"""`persona bench`: sustained throughput and end-to-end freshness of the three flows on the stack.

The engine is ``persona.benchkit``; this module parses options, prints the summary and writes the
JSON report (and, with ``--plots``, PNG plots). The last line printed is exactly
``throughput_eps=N p99_rt_s=X p99_paimon_s=Y``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from persona.benchkit.stats import next_rates, report_line


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench", help="sustained throughput and freshness of the flows on the local stack"
    )
    parser.add_argument("--quick", action="store_true", help="smaller data and a short run (< 3 minutes)")
    parser.add_argument("--customers", type=int, default=None, help="default 1,000,000 (quick: 100,000)")
    parser.add_argument("--skus", type=int, default=None, help="default 100,000 (quick: 10,000)")
    parser.add_argument(
        "--rate", type=float, default=30_000, help="records/s offered (events + ~5%% orders); 0: unpaced"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="seconds of load before measuring (default 30, 15 with --quick; with --step-rate 0, "
        "else a warm-up at the first step's rate)",
    )
    parser.add_argument("--seconds", type=float, default=None, help="seconds measured (default 120)")
    parser.add_argument(
        "--step-rate",
        metavar="START,FACTOR,MAX",
        default=None,
        help="step mode: offered rates START, START*FACTOR, ... up to MAX; finds the highest held "
        "with p99 event → Paimon ≤ 30 s",
    )
    parser.add_argument("--step-seconds", type=float, default=60.0, help="seconds per step")
    parser.add_argument("--commit-interval", type=float, default=10.0, help="sink commit interval")
    parser.add_argument(
        "--enrich-epoch",
        type=float,
        default=None,
        help="the enrich flow's epoch (snapshot interval), seconds; default: the commit interval",
    )
    parser.add_argument("--partitions", type=int, default=4, help="partitions of every private topic")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="py-spy collapsed stacks of --profile-flow, measured window",
    )
    parser.add_argument(
        "--profile-flow",
        choices=["cdc", "enrich", "sink"],
        default="enrich",
        help="the flow --profile samples",
    )
    parser.add_argument(
        "--profile-enrich", type=Path, default=None, help="same as --profile PATH --profile-flow enrich"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/out"), help="where the JSON report goes")
    parser.add_argument("--plots", type=Path, default=None, help="write PNG plots into this directory")
    parser.add_argument("--keep", action="store_true", help="keep the run's warehouse and state")
    parser.add_argument(
        "--settle-max",
        type=float,
        default=600.0,
        help="after the warm-up, keep the load on up to this many seconds until the flows have "
        "caught up (for two epochs, the lag's low point after each snapshot within ~3.5 s of input "
        "and its peak within 1.5 epochs), so the window starts steady; 0: do not wait",
    )
    parser.add_argument(
        "--shared-cores",
        action="store_true",
        help="leave every process on every core (default: enrich gets a core to itself, as a pod "
        "with a whole CPU on a node with the static CPU manager; the rest share the others)",
    )
    parser.set_defaults(func=run)


def _config(args: argparse.Namespace) -> Any:
    from persona.benchkit.harness import BenchConfig

    quick = args.quick
    cfg = BenchConfig(
        customers=args.customers or (100_000 if quick else 1_000_000),
        skus=args.skus or (10_000 if quick else 100_000),
        rate=args.rate,
        warmup_s=args.warmup if args.warmup is not None else (15.0 if quick else 30.0),
        measure_s=args.seconds if args.seconds is not None else (45.0 if quick else 120.0),
        step_s=args.step_seconds,
        commit_interval=args.commit_interval,
        enrich_epoch=args.enrich_epoch,
        partitions=args.partitions,
        pool_size=200_000 if quick else 400_000,
        ceiling_s=3.0 if quick else 5.0,
        drain_timeout_s=40.0 if quick else 90.0,
        profile=args.profile or args.profile_enrich,
        profile_flow="enrich" if args.profile_enrich else args.profile_flow,
        keep=args.keep,
        enrich_core=not args.shared_cores,
        settle_max_s=args.settle_max,
    )
    if args.step_rate:
        start, factor, maximum = (float(x) for x in args.step_rate.split(","))
        cfg.step_rates = [float(r) for r in next_rates(start, factor, maximum)]
        # Each step starts with its own settle; --warmup adds a warm-up (and the wait until the
        # flows catch up) at the first rate, for a just-started stack.
        cfg.warmup_s = args.warmup if args.warmup is not None else 0.0
    return cfg


def _s(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}s"


def warm_up_line(cfg: Any, settled_s: float) -> str:
    if cfg.step_rates and cfg.warmup_s <= 0:
        return "warm-up: none (step mode: each step's first third settles)"
    if cfg.settle_max_s <= 0 or (cfg.rate <= 0 and not cfg.step_rates):
        return f"warm-up: {cfg.warmup_s:.0f}s"  # nothing to wait for: --settle-max 0, or unpaced
    if settled_s < cfg.settle_max_s:
        return f"warm-up: {cfg.warmup_s:.0f}s, then {settled_s:.0f}s until the flows caught up"
    return f"warm-up: {cfg.warmup_s:.0f}s, then {settled_s:.0f}s more; the flows had not caught up (--settle-max)"


def run(args: argparse.Namespace) -> int:
    from persona.benchkit.harness import run_bench
    from persona.localstack import StackError

    cfg = _config(args)
    started = time.monotonic()
    try:
        report = run_bench(cfg)
    except StackError as error:  # the stack could not be used: a message, as `demo` and `stack` give
        print(f"bench: {error}", file=sys.stderr)
        return 1
    data = report.to_json()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"bench-{report.tag}.json"
    path.write_text(json.dumps(data, indent=1, default=str))
    m = report.machine
    print(
        f"\n== persona bench {report.tag} ({m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}) =="
    )
    print(
        f"data: {report.load['profiles']:,.0f} profiles ({report.load['profiles_s']:.1f}s), "
        f"{report.load['skus']:,.0f} SKUs in Cassandra ({report.load['skus_s']:.1f}s); "
        f"flows ready in {report.flows_ready_s:.1f}s"
    )
    print(f"producer ceiling (one process): {report.producer_ceiling_eps:,.0f} records/s")
    print(warm_up_line(cfg, report.settled_s))
    print(
        "cores: enrich had a core to itself, every other process the rest"
        if cfg.enrich_core
        else "cores: shared by every process (--shared-cores)"
    )
    print(
        "window          offered rec/s  events/s  decisions/s   rt p50/p95/p99            Paimon p50/p95/p99        missing"
    )
    for w in report.windows:
        print(
            f"{w.name:<15} {w.offered_eps:>13,.0f} {w.offered_events_eps:>9,.0f} {w.throughput_eps:>12,.0f}   "
            f"{_s(w.rt_p50_s)}/{_s(w.rt_p95_s)}/{_s(w.rt_p99_s):<10} "
            f"{_s(w.paimon_p50_s)}/{_s(w.paimon_p95_s)}/{_s(w.paimon_p99_s):<10} {w.missing_fraction:.1%}"
        )
    _print_resources(data["samples"], report.windows[0].start_ms / 1000)
    main = report.main
    print(
        f"floor: a bare confluent-kafka consumer drained {report.floor_records:,} input records at "
        f"{report.floor_eps:,.0f}/s; persona end to end = {main.throughput_eps / report.floor_eps:.1%} of it"
    )
    if cfg.step_rates:
        held = report.highest_held_eps
        print(
            "highest offered rate held with p99 event → Paimon ≤ 30 s: "
            + ("none" if held is None else f"{held:,.0f} records/s")
        )
    if cfg.profile is not None and cfg.profile.exists():
        from persona.benchkit.profile import summarize

        summary = summarize(cfg.profile, limit=30)
        top = cfg.profile.with_suffix(".top.txt")
        top.write_text(summary + "\n")
        print(f"{cfg.profile_flow} profile (py-spy, measured window): {cfg.profile}; summary {top}")
    if args.plots is not None:
        from persona.benchkit.plots import plot_report

        for p in plot_report(data, args.plots, f"bench-{report.tag}"):
            print(f"plot: {p}")
    print(f"report: {path} ({time.monotonic() - started:.0f}s in all)")
    print(report_line(main.throughput_eps, main.rt_p99_s, main.paimon_p99_s))
    sys.stdout.flush()
    return 0


def _print_resources(samples: list[dict[str, Any]], window_start_s: float) -> None:
    """Mean CPU and first/last RSS of each process over the measured part of the run."""
    measured = [s for s in samples if s["t"] >= window_start_s]
    if not measured:
        return
    parts = []
    for name in ("cdc", "enrich", "sink", "kafka", "cassandra", "producer"):
        cpu = [s[f"{name}_cpu"] for s in measured if f"{name}_cpu" in s]
        rss = [s[f"{name}_rss_mib"] for s in measured if f"{name}_rss_mib" in s]
        if cpu and rss:
            parts.append(f"{name} {sum(cpu) / len(cpu):.0f}% CPU, RSS {rss[0]:.0f}→{rss[-1]:.0f} MiB")
    machine = [s["machine_cpu"] for s in measured if "machine_cpu" in s]
    if machine:
        parts.append(f"machine {sum(machine) / len(machine):.0f}% of {100 * (os.cpu_count() or 1)}%")
    lags = [s.get("enrich_lag", 0) + s.get("sink_lag", 0) + s.get("cdc_lag", 0) for s in measured]
    print("resources while measured: " + "; ".join(parts))
    print(f"consumer lag (all flows, records): max {max(lags):,}, last {lags[-1]:,}")
