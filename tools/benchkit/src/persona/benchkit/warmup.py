"""Warm-up and settling: load before the measured window, kept on until the flows have caught up,
so a just-started stack's cold start is not measured as its steady state."""

from __future__ import annotations

import logging
import time

from persona.benchkit.config import BenchConfig
from persona.benchkit.monitor import Monitor
from persona.benchkit.processes import RunFlows
from persona.benchkit.producer import ProducerProcess
from persona.benchkit.stats import caught_up

log = logging.getLogger(__name__)


def warm_up(
    cfg: BenchConfig,
    producer: ProducerProcess,
    flows: RunFlows,
    monitor: Monitor,
    rate: float,
    plan: str,
) -> float:
    """Offer ``rate`` for ``cfg.warmup_s``, then until the flows caught up; the extension's seconds."""
    producer.set_rate(rate)
    what = f"{rate:,.0f} records/s" if rate > 0 else "as fast as possible"
    log.info("offering %s: %s", what, plan)
    flows.hold(cfg.warmup_s)
    return settle(cfg, flows, monitor, rate)


def settle(cfg: BenchConfig, flows: RunFlows, monitor: Monitor, rate: float) -> float:
    """Keep ``rate`` offered until the lag samples of the last two epochs show the flows caught up
    (``stats.caught_up``), at most ``cfg.settle_max_s``; the seconds it took. An unpaced run
    (``rate`` 0) has no rate to catch up with."""
    if cfg.settle_max_s <= 0 or rate <= 0:
        return 0.0
    started = time.monotonic()
    epoch_s = max(cfg.commit_interval, cfg.enrich_epoch or cfg.commit_interval)
    history: list[int] = []
    seen: dict[str, int] | None = None
    last_log = started
    while time.monotonic() - started < cfg.settle_max_s:
        lags = monitor.latest_lag
        if lags is not seen and lags:  # a new sample
            seen = lags
            history.append(sum(lags.values()))
            if caught_up(history, rate, epoch_s, Monitor.SAMPLE_S):
                took = time.monotonic() - started
                log.info("warm-up extended by %.0fs until the flows caught up", took)
                return took
        if time.monotonic() - last_log >= 30:
            last_log = time.monotonic()
            log.info(
                "warm-up extended %.0fs: the flows' lag is %s",
                last_log - started,
                f"{history[-1] if history else 0:,}",
            )
        flows.hold(0.5)
    log.info("the flows did not catch up within %.0fs more; measuring anyway", cfg.settle_max_s)
    return time.monotonic() - started
