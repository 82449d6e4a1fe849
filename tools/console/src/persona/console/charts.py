"""Charts rendered on the server as inline SVG: no JavaScript, nothing fetched by the browser.

Pure functions of view models; every text that comes from data is escaped here, so the SVG is safe
to embed in the page as is.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from persona.console.views import SegmentHistory

# Distinguishable on white and for the common colour-vision deficiencies (Okabe–Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 × 10^k at or above ``value`` (an axis maximum that reads well)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= value:
            return float(factor * magnitude)
    return float(10 * magnitude)


def _clock(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%H:%M:%S")


def segment_chart_svg(history: SegmentHistory, width: int = 720, height: int = 260) -> str:
    """Customers per segment (y) over the snapshots' commit times (x), one line per segment."""
    left, right, top, bottom = 56, 150, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-label="customers per segment over time">'
    ]
    points = history.points
    if not points:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="empty">'
            "no snapshot of marketing_segments yet</text></svg>"
        )
        return "".join(parts)
    t0, t1 = points[0].committed_at_ms, points[-1].committed_at_ms
    span = max(t1 - t0, 1)
    y_max = _nice_ceiling(max((max(p.counts.values(), default=0) for p in points), default=0))

    def x(ms: int) -> float:
        return left + (plot_w * (ms - t0) / span if len(points) > 1 else plot_w / 2)

    def y(count: float) -> float:
        return top + plot_h - plot_h * count / y_max

    for i in range(6):
        value = y_max * i / 5  # y_max is 1, 2 or 5 × 10^k: fifths read well
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" class="axis">{value:,.{0 if value.is_integer() else 1}f}</text>'
        )
    parts.append(
        f'<text x="{left}" y="{height - 10}" class="axis">{_clock(t0)}Z</text>'
        f'<text x="{left + plot_w}" y="{height - 10}" text-anchor="end" class="axis">{_clock(t1)}Z</text>'
    )
    for i, segment in enumerate(history.segments):
        colour = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{x(p.committed_at_ms):.1f},{y(p.counts.get(segment, 0)):.1f}" for p in points)
        label = escape(segment)
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2">'
            f"<title>{label}</title></polyline>"
        )
        if len(points) == 1:
            px, py = coords.split(",")
            parts.append(f'<circle cx="{px}" cy="{py}" r="3" fill="{colour}"/>')
        legend_y = top + 16 * i + 8
        parts.append(
            f'<rect x="{left + plot_w + 14}" y="{legend_y - 8}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + plot_w + 30}" y="{legend_y + 1}" class="legend">{label}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
