"""The pure parts of the benchmark: percentiles, per-second series, the step-rate verdict and the
report line. No I/O, no clock: the unit tests cover them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in [0, 1]) of ``values``; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return _rank(ordered, q)


def percentiles(values: Iterable[float], qs: Sequence[float]) -> list[float]:
    """Several percentiles with one sort."""
    ordered = sorted(values)
    if not ordered:
        return [math.nan for _ in qs]
    return [_rank(ordered, q) for q in qs]


def _rank(ordered: Sequence[float], q: float) -> float:
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"percentile {q} outside [0, 1]")
    # Nearest rank: the smallest value with at least q of the values at or below it.
    index = max(0, math.ceil(q * len(ordered)) - 1)
    return ordered[index]


def per_second(
    times_ms: Iterable[int], values: Iterable[float], start_ms: int, end_ms: int
) -> list[list[float]]:
    """Bucket ``values`` by the second (since ``start_ms``) of the matching time; times outside
    [start_ms, end_ms) are dropped."""
    buckets: list[list[float]] = [[] for _ in range(max(0, math.ceil((end_ms - start_ms) / 1000)))]
    for t, v in zip(times_ms, values, strict=True):
        if start_ms <= t < end_ms:
            buckets[(t - start_ms) // 1000].append(v)
    return buckets


@dataclass(frozen=True)
class StepResult:
    """One step of the step-rate mode: what was offered, what came out, how fresh."""

    offered_eps: float
    throughput_eps: float
    p99_rt_s: float
    p99_paimon_s: float
    # Share of the step's events that never reached rt or Paimon before the run ended.
    missing_fraction: float = 0.0
    # Share of the offered records that are behavior events (each gives one decision); the rest
    # are order changes, which give none.
    events_share: float = 1.0


def step_holds(step: StepResult, *, p99_paimon_limit_s: float = 30.0, min_ratio: float = 0.95) -> bool:
    """A rate is held when the pipeline keeps up with it (throughput ≥ ``min_ratio`` of the offered
    rate), at most 1% of its events are missing, and p99 event → Paimon stays within the limit."""
    if step.missing_fraction > 0.01 or math.isnan(step.p99_paimon_s):
        return False
    expected = step.offered_eps * step.events_share
    return step.throughput_eps >= min_ratio * expected and step.p99_paimon_s <= p99_paimon_limit_s


def highest_held_rate(
    steps: Sequence[StepResult], *, p99_paimon_limit_s: float = 30.0, min_ratio: float = 0.95
) -> float | None:
    """The highest offered rate held, counting only steps before the first one that failed (a
    failed step leaves a backlog that spoils every later one). None when the first step fails."""
    best: float | None = None
    for step in sorted(steps, key=lambda s: s.offered_eps):
        if not step_holds(step, p99_paimon_limit_s=p99_paimon_limit_s, min_ratio=min_ratio):
            break
        best = step.offered_eps
    return best


def next_rates(start: float, factor: float, maximum: float) -> list[float]:
    """The offered rates of the step mode: ``start``, ``start*factor``, … up to ``maximum``."""
    if start <= 0 or factor <= 1 or maximum < start:
        raise ValueError("need 0 < start <= maximum and factor > 1")
    rates: list[float] = []
    rate = start
    while rate <= maximum * (1 + 1e-9):
        rates.append(float(round(rate)))
        rate *= factor
    return rates


def report_line(throughput_eps: float, p99_rt_s: float, p99_paimon_s: float) -> str:
    """The last line `persona bench` prints (parsed by scripts): exactly three key=value fields."""
    return (
        f"throughput_eps={round(throughput_eps)} p99_rt_s={_fmt(p99_rt_s)} p99_paimon_s={_fmt(p99_paimon_s)}"
    )


def _fmt(seconds: float) -> str:
    if math.isnan(seconds):
        return "nan"
    if math.isinf(seconds):
        return "inf"
    return f"{seconds:.2f}"


_EPOCH_CACHE: dict[bytes, int] = {}


def parse_iso_ms(text: bytes) -> int:
    """Epoch milliseconds of a UTC ISO time ``YYYY-MM-DDTHH:MM:SS[.fff]Z`` (persona's wire format),
    cached per second: the benchmark parses millions of them."""
    import datetime as dt

    head = text[:19]
    base = _EPOCH_CACHE.get(head)
    if base is None:
        parsed = dt.datetime.strptime(head.decode(), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
        base = int(parsed.timestamp()) * 1000
        if len(_EPOCH_CACHE) > 100_000:
            _EPOCH_CACHE.clear()
        _EPOCH_CACHE[head] = base
    if len(text) > 20 and text[19:20] == b".":
        frac = text[20:23].rstrip(b"Z")
        return base + int(frac.ljust(3, b"0"))
    return base


def caught_up(lags: Sequence[int], rate: float, epoch_s: float, sample_s: float) -> bool:
    """Whether the newest lag samples (the flows' summed lag, oldest first, ``sample_s`` apart) show
    the flows caught up with input offered at ``rate``.

    Lag is read from the recovery stores, which advance once an epoch, so it is a sawtooth: it
    climbs by an epoch's input, then drops at the snapshot. Its low point, the first sample after a
    snapshot, is the backlog plus up to one sample interval of input (the sampling drifts against
    the epochs) plus what is in flight. Caught up: in each of the last two epochs the lowest sample
    is at most ``sample_s`` + 1.5 s of input, and no sample exceeds an epoch and a half of input.
    The low points matter, not only the peaks: on a just-started stack the peaks fall under the bar
    while the low points still show seconds of backlog."""
    per_epoch = max(1, math.ceil(epoch_s / sample_s))  # n samples sample_s apart meet every phase
    if len(lags) < 2 * per_epoch:
        return False
    recent = lags[-2 * per_epoch :]
    low = rate * (sample_s + 1.5)
    high = 1.5 * rate * epoch_s
    epochs = (recent[:per_epoch], recent[per_epoch:])
    return max(recent) <= high and all(min(epoch) <= low for epoch in epochs)
