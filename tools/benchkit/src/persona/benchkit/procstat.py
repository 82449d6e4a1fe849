"""CPU and RSS of a process, and how busy the whole machine is, from /proc (Linux), sampled over time."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` (threads included); None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may contain spaces) start after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_bytes(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except OSError:
        return None


@dataclass
class ProcessSampler:
    """CPU% (of one core) since the previous sample, and RSS, of one process."""

    pid: int
    _last: tuple[float, float] | None = field(default=None, init=False)

    def sample(self, now: float) -> tuple[float, int] | None:
        cpu = cpu_seconds(self.pid)
        rss = rss_bytes(self.pid)
        if cpu is None or rss is None:
            return None
        last, self._last = self._last, (now, cpu)
        if last is None or now <= last[0]:
            return (0.0, rss)
        return (100.0 * (cpu - last[1]) / (now - last[0]), rss)


def machine_busy_seconds(stat_text: str) -> tuple[float, float]:
    """(busy, total) CPU seconds of all cores from ``/proc/stat``'s first line; busy is everything
    but idle and iowait (steal included: a core taken by the host is not ours to use)."""
    fields = stat_text.split("\n", 1)[0].split()
    if not fields or fields[0] != "cpu":
        raise ValueError("not /proc/stat: its first line is not the 'cpu' total")
    ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    total = sum(ticks)
    return (total - ticks[3] - ticks[4]) / _TICKS, total / _TICKS


@dataclass
class MachineSampler:
    """CPU% of the whole machine since the previous sample, in cores x 100 (two busy cores: 200),
    the same unit as a process's CPU%."""

    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    stat_path: Path = Path("/proc/stat")
    _last: tuple[float, float] | None = field(default=None, init=False)

    def sample(self) -> float | None:
        try:
            busy, total = machine_busy_seconds(self.stat_path.read_text())
        except (OSError, ValueError):
            return None
        last, self._last = self._last, (busy, total)
        if last is None or total <= last[1]:
            return None
        return 100.0 * self.cores * (busy - last[0]) / (total - last[1])
