"""The summary `persona bench` prints: the run's set-up, one row per window, resources, the floor
and, in step mode, the highest rate held. Pure: the command prints these lines."""

from __future__ import annotations

import math
from typing import Any

from persona.benchkit.config import BenchConfig
from persona.benchkit.flow_specs import FLOW_NAMES
from persona.benchkit.report import BenchReport
from persona.flows.common.spec import FRESHNESS_SAMPLE_EVERY
from persona.localstack import SERVICES

# The processes whose CPU and RSS the summary reports, in its order.
RESOURCE_NAMES = (*FLOW_NAMES, *SERVICES, "producer")


def summary_lines(report: BenchReport, cfg: BenchConfig) -> list[str]:
    m = report.machine
    lines = [
        "",
        f"== persona bench {report.tag} ({m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}) ==",
        f"data: {report.load['profiles']:,.0f} profiles ({report.load['profiles_s']:.1f}s), "
        f"{report.load['skus']:,.0f} SKUs in Cassandra ({report.load['skus_s']:.1f}s); "
        f"flows ready in {report.flows_ready_s:.1f}s",
        f"producer ceiling (one process): {report.producer_ceiling_eps:,.0f} records/s",
        warm_up_line(cfg, report.settled_s),
        "cores: enrich had a core to itself, every other process the rest"
        if cfg.enrich_core
        else "cores: shared by every process (--shared-cores)",
        f"enrich: {cfg.enrich_processes} process"
        + ("es (a Bytewax cluster)" if cfg.enrich_processes > 1 else ""),
        "window          offered rec/s  events/s  decisions/s   rt p50/p95/p99            "
        "Paimon p50/p95/p99        missing",
    ]
    for w in report.windows:
        lines.append(
            f"{w.name:<15} {w.offered_eps:>13,.0f} {w.offered_events_eps:>9,.0f} {w.throughput_eps:>12,.0f}   "
            f"{_s(w.rt_p50_s)}/{_s(w.rt_p95_s)}/{_s(w.rt_p99_s):<10} "
            f"{_s(w.paimon_p50_s)}/{_s(w.paimon_p95_s)}/{_s(w.paimon_p99_s):<10} {w.missing_fraction:.1%}"
        )
    lines += resource_lines(report.samples, report.windows[0].start_ms / 1000, m["cores"] or 1)
    main = report.main
    lines.append(
        f"floor: a bare confluent-kafka consumer drained {report.floor_records:,} input records at "
        f"{report.floor_eps:,.0f}/s; persona end to end = {main.throughput_eps / report.floor_eps:.1%} of it"
    )
    if report.prometheus is not None:
        lines += prometheus_lines(report)
    if cfg.step_rates:
        held = report.highest_held_eps
        lines.append(
            f"highest offered rate held with p99 event → Paimon ≤ {cfg.p99_paimon_limit_s:.0f} s: "
            + ("none" if held is None else f"{held:,.0f} records/s")
        )
    return lines


def scaling_lines(one: BenchReport, many: BenchReport, processes: int) -> list[str]:
    """1 enrich process against ``processes`` in the same invocation: throughput, freshness, CPU."""
    a, b = one.main, many.main

    def enrich_cpu(report: BenchReport) -> float:
        w = report.main
        cpu = [
            s["enrich_cpu"]
            for s in report.samples
            if w.start_ms / 1000 <= s["t"] <= w.end_ms / 1000 and "enrich_cpu" in s
        ]
        return sum(cpu) / len(cpu) if cpu else math.nan

    ratio = b.throughput_eps / a.throughput_eps if a.throughput_eps else math.nan
    lines = [
        "",
        f"== enrich: 1 process ({one.tag}) vs {processes} processes ({many.tag}), same invocation ==",
    ]
    if one.config.get("step_rates"):

        def held(report: BenchReport) -> str:
            rate = report.highest_held_eps
            return "none" if rate is None else f"{rate:,.0f} records/s"

        lines.append(f"highest offered rate held: {held(one)} vs {held(many)}")
    return [
        *lines,
        f"decisions/s{' at that rate' if one.config.get('step_rates') else ''}: {a.throughput_eps:,.0f} vs "
        f"{b.throughput_eps:,.0f} (× {ratio:.2f}); rt p99 {_s(a.rt_p99_s)} vs {_s(b.rt_p99_s)}; "
        f"Paimon p99 {_s(a.paimon_p99_s)} vs {_s(b.paimon_p99_s)}",
        f"enrich CPU (all its processes) in that window: {enrich_cpu(one):.0f}% vs {enrich_cpu(many):.0f}% "
        "of one core",
    ]


def prometheus_lines(report: BenchReport) -> list[str]:
    """Each window's p99 freshness as the bench measured it beside the flows' own histogram in
    Prometheus: the bench reads every decision of the window's events; the histogram samples one
    decision in ``FRESHNESS_SAMPLE_EVERY``, recorded in the window, to its buckets' resolution, and
    its rt freshness ends at the decision, not at the broker's arrival."""
    prom = report.prometheus
    if prom is None:
        return []
    by_name = {w["name"]: w for w in prom["windows"]}
    lines = [
        f"Prometheus ({prom['url']}, step {prom['step_s']:g}s, rates over {prom['rate_window_s']:g}s): "
        f"{sum(len(s) for s in prom['series'].values())} series of the run's "
        f"{sum(len(i) for i in prom['targets']['instances'].values())} flow processes",
        f"p99 freshness, the bench's vs the flows' histogram (1 decision in {FRESHNESS_SAMPLE_EVERY}, "
        "buckets) in Prometheus:",
    ]
    for w in report.windows:
        got = by_name.get(w.name)
        if got is None:
            continue
        lines.append(
            f"  {w.name:<15} rt {_s(w.rt_p99_s)} vs {_s(_float(got['rt_p99_s']))}; "
            f"Paimon {_s(w.paimon_p99_s)} vs {_s(_float(got['paimon_p99_s']))}"
        )
    return lines


def _float(value: float | None) -> float:
    return math.nan if value is None else float(value)


def warm_up_line(cfg: BenchConfig, settled_s: float) -> str:
    if cfg.step_rates and cfg.warmup_s <= 0:
        return "warm-up: none (step mode: each step's first third settles)"
    if cfg.settle_max_s <= 0 or (cfg.rate <= 0 and not cfg.step_rates):
        return f"warm-up: {cfg.warmup_s:.0f}s"  # nothing to wait for: --settle-max 0, or unpaced
    if settled_s < cfg.settle_max_s:
        return f"warm-up: {cfg.warmup_s:.0f}s, then {settled_s:.0f}s until the flows caught up"
    return f"warm-up: {cfg.warmup_s:.0f}s, then {settled_s:.0f}s more; the flows had not caught up (--settle-max)"


def resource_lines(samples: list[dict[str, Any]], window_start_s: float, cores: int) -> list[str]:
    """Mean CPU and first/last RSS of each process, and the flows' lag, over the measured part of
    the run (from ``window_start_s``)."""
    measured = [s for s in samples if s["t"] >= window_start_s]
    if not measured:
        return []
    parts = []
    for name in RESOURCE_NAMES:
        cpu = [s[f"{name}_cpu"] for s in measured if f"{name}_cpu" in s]
        rss = [s[f"{name}_rss_mib"] for s in measured if f"{name}_rss_mib" in s]
        if cpu and rss:
            parts.append(f"{name} {sum(cpu) / len(cpu):.0f}% CPU, RSS {rss[0]:.0f}→{rss[-1]:.0f} MiB")
    machine = [s["machine_cpu"] for s in measured if "machine_cpu" in s]
    if machine:
        parts.append(f"machine {sum(machine) / len(machine):.0f}% of {100 * cores}%")
    lags = [sum(s.get(f"{name}_lag", 0) for name in FLOW_NAMES) for s in measured]
    return [
        "resources while measured: " + "; ".join(parts),
        f"consumer lag (all flows, records): max {max(lags):,}, last {lags[-1]:,}",
    ]


def _s(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}s"
