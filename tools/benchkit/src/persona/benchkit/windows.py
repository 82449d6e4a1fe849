"""The measured windows of a run: one after the warm-up, or one per step of the step mode; and the
drain that keeps the load on until the last window's events are in Paimon.

A window is a span of wall time: its freshness is that of the events produced in it, whenever
their decisions arrived, and its throughput the decisions that arrived in it (``freshness``)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from persona.benchkit.config import BenchConfig
from persona.benchkit.flow_specs import ENRICH, SINK, spec_of
from persona.benchkit.monitor import Monitor
from persona.benchkit.processes import RunFlows
from persona.benchkit.producer import ProducerProcess
from persona.benchkit.profile import start_profiler
from persona.benchkit.warmup import warm_up
from persona.contracts import Topics
from persona.kafka import EndOffsets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    name: str
    start_ms: int
    end_ms: int
    produced_events: int = 0
    produced_total: int = 0


def measure_window(producer: ProducerProcess, flows: RunFlows, name: str, seconds: float) -> Window:
    """Keep the current load on for ``seconds``: a window of what was produced meanwhile."""
    events0, total0 = int(producer.events.value), producer.total
    start_ms = int(time.time() * 1000)
    flows.hold(seconds)
    end_ms = int(time.time() * 1000)
    return Window(
        name,
        start_ms,
        end_ms,
        produced_events=int(producer.events.value) - events0,
        produced_total=producer.total - total0,
    )


def drive(
    cfg: BenchConfig, producer: ProducerProcess, flows: RunFlows, monitor: Monitor
) -> tuple[list[Window], float]:
    """Offer the run's load and measure it: the windows, and the seconds the warm-up was extended."""
    if not cfg.step_rates:
        return _single_rate(cfg, producer, flows, monitor)
    return _steps(cfg, producer, flows, monitor)


def _single_rate(
    cfg: BenchConfig, producer: ProducerProcess, flows: RunFlows, monitor: Monitor
) -> tuple[list[Window], float]:
    plan = f"{cfg.warmup_s:.0f}s warm-up, then {cfg.measure_s:.0f}s measured"
    settled_s = warm_up(cfg, producer, flows, monitor, cfg.rate, plan)
    spy = None
    if cfg.profile is not None:
        sampled = spec_of(cfg.profile_flow)
        pid = flows.pid(sampled)
        assert pid is not None
        spy = start_profiler(pid, cfg.measure_s, cfg.profile)
        log.info("py-spy samples the %s flow during the measured window -> %s", sampled.name, cfg.profile)
    window = measure_window(producer, flows, "measure", cfg.measure_s)
    if spy is not None:
        spy.wait(60)
    return [window], settled_s


def _steps(
    cfg: BenchConfig, producer: ProducerProcess, flows: RunFlows, monitor: Monitor
) -> tuple[list[Window], float]:
    settled_s = 0.0
    if cfg.warmup_s > 0:
        # Warm up at the first step's rate, as a single-rate run does, so the first step does not
        # measure a just-started stack's cold start.
        plan = f"{cfg.warmup_s:.0f}s warm-up before the steps"
        settled_s = warm_up(cfg, producer, flows, monitor, cfg.step_rates[0], plan)
    windows = []
    settle = cfg.step_s / 3
    for rate in cfg.step_rates:
        producer.set_rate(rate)
        log.info(
            "step %s records/s: %.0fs settle, %.0fs measured", f"{rate:,.0f}", settle, cfg.step_s - settle
        )
        flows.hold(settle)
        w = measure_window(producer, flows, f"step-{rate:.0f}", cfg.step_s - settle)
        windows.append(w)
        # A rate the flows cannot keep up with leaves a backlog: the steps above it would only
        # measure that backlog, so the search stops here.
        achieved = w.produced_total / max(1e-9, (w.end_ms - w.start_ms) / 1000)
        if achieved < 0.95 * rate:
            log.info("  the producer reached only %s/s; stopping the steps", f"{achieved:,.0f}")
            break
        if _lagging(cfg, monitor, rate):
            log.info(
                "  the flows fell behind (lag above %.0f s of input); stopping the steps",
                cfg.p99_paimon_limit_s,
            )
            break
    return windows, settled_s


def _lagging(cfg: BenchConfig, monitor: Monitor, rate: float) -> bool:
    """Whether the newest lag sample holds more input than p99 event → Paimon may take.

    Lag is read from the recovery stores, so it includes up to an epoch of input that is processed
    but not yet durable: an enrich epoch longer than the commit interval raises the bar by the
    difference."""
    last = monitor.latest_lag
    extra_s = max(0.0, (cfg.enrich_epoch or cfg.commit_interval) - cfg.commit_interval)
    return bool(last) and sum(last.values()) > rate * (cfg.p99_paimon_limit_s + extra_s)


def drain(cfg: BenchConfig, flows: RunFlows, offsets: EndOffsets, topics: Topics) -> None:
    """Keep the load on until enrich has processed every event produced so far and the sink every
    decision enrich had made by then, at most ``cfg.drain_timeout_s``."""
    events_end = offsets.end(topics.behavior_events)
    deadline = time.monotonic() + cfg.drain_timeout_s
    decisions_end: dict[int, int] | None = None
    while time.monotonic() < deadline:
        flows.check_alive()
        if decisions_end is None:
            if flows.processed_at_least(ENRICH, topics.behavior_events, events_end):
                decisions_end = offsets.end(topics.segment_decisions)
        elif flows.processed_at_least(SINK, topics.segment_decisions, decisions_end):
            return
        time.sleep(0.5)  # polling interval of the drain check
    log.info(
        "drain deadline (%.0fs) passed: some events of the window are not in Paimon", cfg.drain_timeout_s
    )
