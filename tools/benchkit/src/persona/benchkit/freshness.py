"""What the pipeline did, read back after the run: every decision's event time and when it
arrived on ``marketing_segments_rt`` and in a committed Paimon snapshot; per window, freshness
percentiles and throughput; per second, the same as series for the plots; and the floor, a bare
consumer's drain of the inputs."""

from __future__ import annotations

import math
import time
from array import array
from collections.abc import Mapping

from persona.benchkit.report import WindowResult
from persona.benchkit.stats import parse_iso_ms, per_second, percentiles
from persona.benchkit.windows import Window
from persona.kafka import drain
from persona.paimon import PaimonWarehouse


def read_rt(
    bootstrap: str, topic: str, config: Mapping[str, str] | None = None
) -> tuple[array[int], array[int]]:
    """(event_time_ms, arrival_ms) of every message on the rt topic, whose ``LogAppendTime``
    timestamps are the broker's time of arrival. ``config``: the Kafka security settings."""
    events: array[int] = array("q")
    arrivals: array[int] = array("q")
    marker = b'"event_time":"'
    for batch in drain(bootstrap, [topic], config=config):
        for value, arrived_ms in batch.values_and_timestamps():
            if not value:
                continue
            at = value.find(marker)
            if at < 0:
                continue
            at += len(marker)
            events.append(parse_iso_ms(value[at : at + 24]))
            arrivals.append(arrived_ms)
    return events, arrivals


def read_paimon_commits(warehouse: PaimonWarehouse, table: str) -> tuple[array[int], array[int]]:
    """(event_time_ms, commit_ms) of every row of ``table``, from each snapshot's added rows."""
    import pyarrow as pa

    events: array[int] = array("q")
    commits: array[int] = array("q")
    snapshots = warehouse.snapshots(table)
    handle = warehouse.table(table)
    previous = 0
    for snap in snapshots:
        at = int(snap["time_millis"])
        scoped = handle.copy({"incremental-between-timestamp": f"{previous},{at}"})
        builder = scoped.new_read_builder().with_projection(["event_time"])
        data = builder.new_read().to_arrow(builder.new_scan().plan().splits())
        column = data.column("event_time").cast(pa.int64()).to_pylist()
        events.extend(v for v in column if v is not None)
        commits.extend(at for v in column if v is not None)
        previous = at
    return events, commits


def measure_floor(
    bootstrap: str, topics: list[str], config: Mapping[str, str] | None = None
) -> tuple[float, int]:
    """Records/s a bare consumer drains ``topics`` from the beginning, doing nothing with them;
    and how many records that was. ``config``: the Kafka security settings."""
    count = 0
    started = time.perf_counter()
    for batch in drain(bootstrap, topics, config=config):
        count += len(batch)
    elapsed = time.perf_counter() - started
    return (count / elapsed if elapsed > 0 else math.nan), count


def _freshness(events: array[int], arrived: array[int], start_ms: int, end_ms: int) -> list[float]:
    return [(a - e) / 1000 for e, a in zip(events, arrived, strict=True) if start_ms <= e < end_ms]


def window_result(
    w: Window,
    rt_event: array[int],
    rt_arrival: array[int],
    pm_event: array[int],
    pm_commit: array[int],
) -> WindowResult:
    seconds = (w.end_ms - w.start_ms) / 1000
    rt = _freshness(rt_event, rt_arrival, w.start_ms, w.end_ms)
    pm = _freshness(pm_event, pm_commit, w.start_ms, w.end_ms)
    arrived = sum(1 for a in rt_arrival if w.start_ms <= a < w.end_ms)
    rt50, rt95, rt99 = percentiles(rt, (0.5, 0.95, 0.99))
    pm50, pm95, pm99 = percentiles(pm, (0.5, 0.95, 0.99))
    return WindowResult(
        name=w.name,
        start_ms=w.start_ms,
        end_ms=w.end_ms,
        offered_eps=w.produced_total / seconds,
        produced_events=w.produced_events,
        throughput_eps=arrived / seconds,
        decisions_rt=len(rt),
        decisions_paimon=len(pm),
        rt_p50_s=rt50,
        rt_p95_s=rt95,
        rt_p99_s=rt99,
        paimon_p50_s=pm50,
        paimon_p95_s=pm95,
        paimon_p99_s=pm99,
    )


def series(
    start_ms: int,
    end_ms: int,
    rt_event: array[int],
    rt_arrival: array[int],
    pm_event: array[int],
    pm_commit: array[int],
) -> dict[str, list[float]]:
    """Per second of the run: decisions arriving on rt, and p50/p99 freshness by event second."""
    n = max(0, math.ceil((end_ms - start_ms) / 1000))
    arrivals = [0.0] * n
    for a in rt_arrival:
        if start_ms <= a < end_ms:
            arrivals[(a - start_ms) // 1000] += 1
    out: dict[str, list[float]] = {"t_s": [float(i) for i in range(n)], "rt_arrivals": arrivals}
    for name, events, landed in (("rt", rt_event, rt_arrival), ("paimon", pm_event, pm_commit)):
        fresh = ((at - e) / 1000 for e, at in zip(events, landed, strict=True))
        pairs = [percentiles(b, (0.5, 0.99)) for b in per_second(events, fresh, start_ms, end_ms)]
        out[f"{name}_p50_s"] = [p[0] for p in pairs]
        out[f"{name}_p99_s"] = [p[1] for p in pairs]
    return out
