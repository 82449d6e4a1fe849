"""The enrich flow's statistics lines (``persona.flows.enrich.reporting``): ``key=value`` lines on the
``persona.flows.enrich`` logger, each counter's growth since the last line."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import pytest
from test_enrich_redecide import SETTINGS, _event, _run
from test_flows_golden import DictInventory, DictProfiles

from persona.flows.common.process import GcTimer
from persona.flows.enrich import CustomerShard
from persona.flows.enrich.customer_log import Compactor, LogStats, Merge
from persona.flows.enrich.flow import EnrichContext
from persona.flows.enrich.reporting import SnapshotStats, StatsLog

LOGGER = "persona.flows.enrich"


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith(LOGGER)]


def _ctx() -> EnrichContext:
    return EnrichContext(
        SETTINGS, DictProfiles({}), DictInventory({"A": 4}), stats_log=StatsLog(every_seconds=0.0)
    )


class _Clock:
    """``time.monotonic`` for the report's window, moved by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 100.0
        monkeypatch.setattr(time, "monotonic", lambda: self.now)


def test_the_log_line_reports_the_snapshots_encoded_since_the_last_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    ctx = _ctx()
    shard = CustomerShard(ctx, None)
    _run(shard, _event("e-1", 7, "A", 1))
    caplog.clear()
    size = len(shard.snapshot().state) + len(shard.snapshot().state)
    ctx.maybe_report()
    lines = _lines(caplog)
    assert len(lines) == 1 and lines[0].startswith(f"stats=snapshots shards=2 bytes={size} "), lines
    ctx.maybe_report()  # no snapshot since the last line: no snapshot line
    assert len(_lines(caplog)) == 1


def test_the_log_line_reports_how_long_after_the_snapshots_the_flow_resumed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    ctx = _ctx()
    shard = CustomerShard(ctx, None)
    _run(shard, _event("e-1", 7, "A", 1))
    now = [50.0]
    monkeypatch.setattr(time, "perf_counter", lambda: now[0])
    caplog.clear()
    shard.snapshot()
    shard.snapshot()  # the epoch's last shard: the stall counts from here
    now[0] += 0.25  # Bytewax writes the snapshots
    shard.on_notify()
    now[0] += 5.0  # later activations are not a stall
    _run(shard, _event("e-2", 7, "A", 2))  # its batch writes the log line
    assert any(line.endswith("resumed_after_ms=250") for line in _lines(caplog)), _lines(caplog)


def test_lines_are_written_once_per_interval(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = _Clock(monkeypatch)
    report = StatsLog(every_seconds=10.0)
    snapshots = SnapshotStats()
    snapshots.taken(1.0, 1.5, 100)
    report.maybe_log(snapshots, LogStats(), None)
    assert len(_lines(caplog)) == 1
    snapshots.taken(2.0, 2.5, 100)
    clock.now += 9.0
    report.maybe_log(snapshots, LogStats(), None)
    assert len(_lines(caplog)) == 1, "not due yet"
    clock.now += 1.0
    report.maybe_log(snapshots, LogStats(), None)
    assert _lines(caplog)[1] == "stats=snapshots shards=1 bytes=100 encode_ms=500 resumed_after_ms=0"


def test_the_gc_line_gives_the_collections_and_their_share_of_the_window(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = _Clock(monkeypatch)
    timer = GcTimer()
    timer.collections = [5, 1, 0]
    report = StatsLog(every_seconds=10.0, gc_timer=timer)
    report.maybe_log(SnapshotStats(), LogStats(), None)
    assert _lines(caplog) == [], "no window yet to give a share of"
    timer.collections = [35, 3, 0]
    timer.seconds = [0.4, 0.1, 0.0]
    clock.now += 10.0
    report.maybe_log(SnapshotStats(), LogStats(), None)
    assert _lines(caplog) == [
        "stats=gc window_s=10 time_share=0.050 gen0=30 gen1=2 gen2=0 gen0_ms=400 gen1_ms=100 gen2_ms=0"
    ]


def test_the_customer_log_line_gives_appends_seals_and_merges_since_the_last_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = _Clock(monkeypatch)
    report = StatsLog(every_seconds=10.0)
    stats = LogStats(appended_records=500)
    report.maybe_log(SnapshotStats(), stats, None)
    stats.appended_records += 20_000
    stats.appended_bytes += 4_000_000
    stats.append_seconds += 0.2
    stats.seals += 4
    stats.seal_seconds += 0.03
    clock.now += 10.0
    report.maybe_log(SnapshotStats(), stats, None)
    assert _lines(caplog) == [
        "stats=customer_log window_s=10 appended_records_per_s=2000 appended_bytes_per_s=400000 "
        "append_time_share=0.020 seals=4 seal_ms=30 merges=0 merged_bytes=0 merge_cpu_ms=0 merge_errors=0"
    ]
    clock.now += 10.0
    report.maybe_log(SnapshotStats(), stats, None)
    assert len(_lines(caplog)) == 1, "nothing changed: no line"


@dataclass
class _CacheStats:
    hits: int = 0
    misses: int = 0
    reads: int = 0
    read_seconds: float = 0.0
    refreshes: int = 0
    refreshed_skus: int = 0
    deferrals: int = 0
    loads: int = 0
    loaded_skus: int = 0
    load_errors: int = 0


def test_the_inventory_line_gives_the_hit_ratio_and_the_reads(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = _Clock(monkeypatch)
    report = StatsLog(every_seconds=10.0)
    stats = _CacheStats(hits=1000)
    report.maybe_log(SnapshotStats(), LogStats(), stats)
    stats.hits += 900
    stats.misses += 40
    stats.reads += 10
    stats.read_seconds += 0.5
    stats.deferrals += 20
    stats.loads += 5
    stats.loaded_skus += 60
    stats.refreshes += 10
    stats.refreshed_skus += 300
    clock.now += 10.0
    report.maybe_log(SnapshotStats(), LogStats(), stats)
    assert _lines(caplog) == [
        "stats=inventory_cache window_s=10 hit_ratio=0.900 deferrals_per_s=2.000 "
        "background_reads_per_s=0.500 background_skus_per_s=6 background_errors_per_s=0.000 "
        "blocking_reads_per_s=1.000 blocking_skus_per_s=4 blocking_time_share=0.050 "
        "rereads_per_s=1.000 reread_skus_per_s=30"
    ]


def test_a_failed_merge_is_a_warning_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    compactor = Compactor()
    compactor.finished(Merge(pid=1, inputs=("a.base", "b.seg"), out="c.base", exit_code=1), None)
    assert compactor.stats.compaction_errors == 1 and compactor.stats.compactions == 0
    [record] = caplog.records
    assert record.levelno == logging.WARNING and record.name == "persona.flows.enrich.customer_log"
    assert record.getMessage().startswith("event=customer_log_merge_failed out=c.base files=2 exit_code=1 ")
