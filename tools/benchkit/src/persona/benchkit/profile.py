"""py-spy on a flow: sampling it during the measured window, and summaries of its collapsed stacks
(``--format raw``): where the time goes, by function."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path


def start_profiler(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling every thread of ``pid`` 200 times a second for ``seconds`` without pausing
    it (``--nonblocking``); its collapsed stacks are written to ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(round(seconds)),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def top_functions(collapsed: str, limit: int = 25) -> tuple[int, list[tuple[str, int, int]]]:
    """(total samples, [(frame, self samples, inclusive samples)]) ordered by inclusive samples.

    Each line of ``collapsed`` is ``frame;frame;...;leaf COUNT``; a frame counts once per stack
    for the inclusive total, however often it recurses.
    """
    self_count: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        self_count[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    ranked = sorted(inclusive, key=lambda f: inclusive[f], reverse=True)[:limit]
    return total, [(f, self_count[f], inclusive[f]) for f in ranked]


def top_self(collapsed: str, limit: int = 25) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if stack and count_text.isdigit():
            counts[stack.split(";")[-1]] += int(count_text)
    return counts.most_common(limit)


def summarize(path: Path, limit: int = 25) -> str:
    text = path.read_text()
    total, inclusive = top_functions(text, limit)
    lines = [f"{total} samples", "", "inclusive%  self%  frame"]
    for frame, own, incl in inclusive:
        lines.append(f"{100 * incl / total:9.1f}  {100 * own / total:5.1f}  {frame}")
    lines += ["", "top self time:", "self%  frame"]
    for frame, own in top_self(text, limit):
        lines.append(f"{100 * own / total:5.1f}  {frame}")
    return "\n".join(lines)
