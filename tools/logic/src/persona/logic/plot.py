"""``persona logic diff --plot``: the per-segment counts of both sides and the overlap matrix, as a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from persona.logic.diff import ABSENT, SegmentDiff


def plot_diff(diff: SegmentDiff, name_a: str, name_b: str, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = diff_figure(diff, name_a, name_b)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def diff_figure(diff: SegmentDiff, name_a: str, name_b: str) -> Any:
    """The figure: customers per segment of both sides (bars), and the overlap matrix (rows: ``name_a``'s
    segment, columns: ``name_b``'s, ``(absent)`` for a customer one side does not have)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    segments = diff.segments
    rows = [*segments, ABSENT]
    cols = [*segments, ABSENT]
    fig, (bars, heat) = plt.subplots(1, 2, figsize=(13, 5))
    x = range(len(segments))
    width = 0.4
    bars.bar([i - width / 2 for i in x], [diff.counts_a.get(s, 0) for s in segments], width, label=name_a)
    bars.bar([i + width / 2 for i in x], [diff.counts_b.get(s, 0) for s in segments], width, label=name_b)
    bars.set_xticks(list(x), segments, rotation=30, ha="right")
    bars.set_ylabel("customers")
    bars.set_title("customers per segment")
    bars.legend()
    matrix = [[diff.overlap.get((r, c), 0) for c in cols] for r in rows]
    heat.imshow(matrix, cmap="Blues")
    heat.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
    heat.set_yticks(range(len(rows)), rows)
    heat.set_xlabel(name_b)
    heat.set_ylabel(name_a)
    heat.set_title("overlap")
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if value:
                heat.text(j, i, str(value), ha="center", va="center", fontsize=8)
    fig.tight_layout()
    return fig
