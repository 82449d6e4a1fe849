"""The diff of two segmentations (branch A against branch B): pure, over customer -> segment maps.

What a marketer reads before a campaign: how many customers each segment holds on each side, who
enters and who leaves each segment, the overlap matrix (rows: A's segment, columns: B's; a customer
present on one side only counts under ``ABSENT`` on the other), and a few sample customers whose
segment changed (their explanations are read by the caller).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

ABSENT: Final = "(none)"


@dataclass(frozen=True)
class SegmentDiff:
    counts_a: dict[str, int]
    counts_b: dict[str, int]
    entered: dict[str, int]
    """segment -> customers in it on B but not on A"""
    exited: dict[str, int]
    """segment -> customers in it on A but not on B"""
    overlap: dict[tuple[str, str], int]
    """(A's segment, B's segment) -> customers; ABSENT for a customer missing on one side"""
    changed: int
    samples: tuple[tuple[int, str, str], ...]
    """(customer, A's segment, B's segment) of some customers whose segment differs, by customer id"""

    @property
    def segments(self) -> list[str]:
        names = set(self.counts_a) | set(self.counts_b)
        return sorted(names)


def diff_segments(a: Mapping[int, str], b: Mapping[int, str], samples: int = 5) -> SegmentDiff:
    """The diff of segmentation ``a`` against ``b``; ``samples`` changed customers, lowest ids first,
    spread over the kinds of change (one of each (from, to) pair before a second of any)."""
    counts_a = Counter(a.values())
    counts_b = Counter(b.values())
    entered: Counter[str] = Counter()
    exited: Counter[str] = Counter()
    overlap: Counter[tuple[str, str]] = Counter()
    by_change: dict[tuple[str, str], list[int]] = {}
    for customer in sorted(set(a) | set(b)):
        sa = a.get(customer, ABSENT)
        sb = b.get(customer, ABSENT)
        overlap[(sa, sb)] += 1
        if sa != sb:
            if sb != ABSENT:
                entered[sb] += 1
            if sa != ABSENT:
                exited[sa] += 1
            by_change.setdefault((sa, sb), []).append(customer)
    picked: list[tuple[int, str, str]] = []
    rank = 0
    while len(picked) < samples and any(rank < len(c) for c in by_change.values()):
        for (sa, sb), customers in sorted(by_change.items()):
            if rank < len(customers) and len(picked) < samples:
                picked.append((customers[rank], sa, sb))
        rank += 1
    return SegmentDiff(
        counts_a=dict(counts_a),
        counts_b=dict(counts_b),
        entered=dict(entered),
        exited=dict(exited),
        overlap=dict(overlap),
        changed=sum(len(c) for c in by_change.values()),
        samples=tuple(sorted(picked)),
    )


def format_diff(diff: SegmentDiff, name_a: str, name_b: str) -> str:
    """The diff as the text ``persona logic diff`` prints."""
    segments = diff.segments
    width = max([len("segment"), *(len(s) for s in segments), len(ABSENT)])
    lines = [f"{'segment'.ljust(width)}  {name_a:>10}  {name_b:>10}  {'entered':>8}  {'exited':>8}"]
    for s in segments:
        lines.append(
            f"{s.ljust(width)}  {diff.counts_a.get(s, 0):>10}  {diff.counts_b.get(s, 0):>10}"
            f"  {diff.entered.get(s, 0):>8}  {diff.exited.get(s, 0):>8}"
        )
    total_a, total_b = sum(diff.counts_a.values()), sum(diff.counts_b.values())
    lines.append(f"{'total'.ljust(width)}  {total_a:>10}  {total_b:>10}  ({diff.changed} changed segment)")
    rows = [s for s in segments if s in diff.counts_a] + ([ABSENT] if _has_absent(diff, 1) else [])
    cols = [s for s in segments if s in diff.counts_b] + ([ABSENT] if _has_absent(diff, 0) else [])
    cell = max([6, *(len(c) for c in cols)])
    lines.append("")
    lines.append(f"overlap ({name_a} rows x {name_b} columns)")
    lines.append(" " * width + "  " + "  ".join(c.rjust(cell) for c in cols))
    for r in rows:
        lines.append(
            r.ljust(width) + "  " + "  ".join(str(diff.overlap.get((r, c), 0)).rjust(cell) for c in cols)
        )
    return "\n".join(lines)


def _has_absent(diff: SegmentDiff, side: int) -> bool:
    return any(pair[side] == ABSENT for pair in diff.overlap)
