"""The enrich flow's statistics lines: every ``every_seconds``, one ``key=value`` line per subject.

``stats=gc``: the cyclic GC's share of the time and its collections (its pauses do not show as
themselves in a profile). ``stats=snapshots``: the shards' Bytewax snapshots and how long after them
the flow resumed, the per-epoch pause behind the rt p99. ``stats=customer_log``: appends, seals and
merges of the shards' customer logs. ``stats=inventory_cache``: the inventory cache's hit ratio and
reads. Counters are cumulative where they come from; each line gives their growth since the last.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from persona.flows.common.process import GcTimer
from persona.flows.enrich.customer_log import LogStats
from persona.settings import kv

log = logging.getLogger("persona.flows.enrich")


@dataclass
class SnapshotStats:
    """The shards' snapshots since the last line, and the stall after them: what Bytewax does with
    the snapshots (pickling them, writing its recovery store) happens between the end of an epoch's
    last shard snapshot and the flow's next batch or wake-up."""

    shards: int = 0
    bytes: int = 0
    seconds: float = 0.0
    resumed_after_seconds: float = 0.0
    ended_at: float | None = None  # perf_counter at the end of the last snapshot, until the flow resumes

    def taken(self, started: float, ended: float, size: int) -> None:
        """One shard snapshot, encoded from ``started`` to ``ended`` (perf_counter), ``size`` bytes."""
        self.shards += 1
        self.bytes += size
        self.seconds += ended - started
        self.ended_at = ended

    def resumed(self) -> None:
        """A batch or wake-up: if snapshots came before it, count the stall since them."""
        if self.ended_at is not None:
            self.resumed_after_seconds += time.perf_counter() - self.ended_at
            self.ended_at = None


_INVENTORY_COUNTERS = (
    "hits",
    "misses",
    "reads",
    "read_seconds",
    "refreshes",
    "refreshed_skus",
    "deferrals",
    "loads",
    "loaded_skus",
    "load_errors",
)


@dataclass
class StatsLog:
    """Writes the lines (``maybe_log``) at most once every ``every_seconds``."""

    every_seconds: float = 10.0
    gc_timer: GcTimer | None = None
    _logged_at: float = 0.0
    _last_gc: tuple[float, ...] = ()
    _last_log: tuple[float, ...] = ()
    _last_inventory: tuple[float, ...] = ()

    def maybe_log(self, snapshots: SnapshotStats, customer_log: LogStats, inventory_stats: object) -> None:
        """The lines, if they are due; ``inventory_stats``: the cache's counters (None: no cache)."""
        now = time.monotonic()
        if now - self._logged_at < self.every_seconds:
            return
        # The first lines have no window to make rates of: only the snapshot line is written.
        seconds = now - self._logged_at if self._logged_at else 0.0
        self._logged_at = now
        if self.gc_timer is not None:
            self._log_gc(self.gc_timer, seconds)
        if snapshots.shards:
            log.info(
                kv(
                    stats="snapshots",
                    shards=snapshots.shards,
                    bytes=snapshots.bytes,
                    encode_ms=round(snapshots.seconds * 1000),
                    resumed_after_ms=round(snapshots.resumed_after_seconds * 1000),
                )
            )
            snapshots.shards = snapshots.bytes = 0
            snapshots.seconds = snapshots.resumed_after_seconds = 0.0
        self._log_customer_log(customer_log, seconds)
        if inventory_stats is not None:
            self._log_inventory(inventory_stats, seconds)

    def _log_gc(self, timer: GcTimer, seconds: float) -> None:
        current = (*timer.collections, *timer.seconds)
        g = [c - p for c, p in zip(current, self._last_gc or (0,) * 6, strict=True)]
        self._last_gc = current
        if seconds:
            log.info(
                kv(
                    stats="gc",
                    window_s=round(seconds),
                    time_share=sum(g[3:]) / seconds,
                    gen0=round(g[0]),
                    gen1=round(g[1]),
                    gen2=round(g[2]),
                    gen0_ms=round(g[3] * 1000),
                    gen1_ms=round(g[4] * 1000),
                    gen2_ms=round(g[5] * 1000),
                )
            )

    def _log_customer_log(self, stats: LogStats, seconds: float) -> None:
        current = tuple(float(v) for v in dataclasses.astuple(stats))
        if seconds and current != self._last_log:
            d = _since([f.name for f in dataclasses.fields(stats)], current, self._last_log)
            log.info(
                kv(
                    stats="customer_log",
                    window_s=round(seconds),
                    appended_records_per_s=round(d["appended_records"] / seconds),
                    appended_bytes_per_s=round(d["appended_bytes"] / seconds),
                    append_time_share=d["append_seconds"] / seconds,
                    seals=round(d["seals"]),
                    seal_ms=round(d["seal_seconds"] * 1000),
                    merges=round(d["compactions"]),
                    merged_bytes=round(d["compacted_bytes"]),
                    merge_cpu_ms=round(d["compaction_seconds"] * 1000),
                    merge_errors=round(d["compaction_errors"]),
                )
            )
        self._last_log = current

    def _log_inventory(self, stats: object, seconds: float) -> None:
        current = tuple(float(getattr(stats, name, 0)) for name in _INVENTORY_COUNTERS)
        d = _since(_INVENTORY_COUNTERS, current, self._last_inventory)
        self._last_inventory = current
        looked_up = d["hits"] + d["misses"] + d["loaded_skus"]
        if seconds and looked_up:
            log.info(
                kv(
                    stats="inventory_cache",
                    window_s=round(seconds),
                    hit_ratio=d["hits"] / looked_up,
                    # lookups set aside for background reads, and those reads
                    deferrals_per_s=d["deferrals"] / seconds,
                    background_reads_per_s=d["loads"] / seconds,
                    background_skus_per_s=round(d["loaded_skus"] / seconds),
                    background_errors_per_s=d["load_errors"] / seconds,
                    blocking_reads_per_s=d["reads"] / seconds,
                    blocking_skus_per_s=round(d["misses"] / seconds),
                    blocking_time_share=d["read_seconds"] / seconds,
                    rereads_per_s=d["refreshes"] / seconds,
                    reread_skus_per_s=round(d["refreshed_skus"] / seconds),
                )
            )


def _since(names: Iterable[str], current: tuple[float, ...], last: tuple[float, ...]) -> dict[str, float]:
    """Each counter's growth since ``last`` (empty: since zero), by name."""
    last = last or (0.0,) * len(current)
    return dict(zip(names, (c - p for c, p in zip(current, last, strict=True)), strict=True))
