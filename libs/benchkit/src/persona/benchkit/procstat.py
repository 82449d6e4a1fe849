"""CPU and RSS of a process from /proc (Linux), sampled over time."""

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
