"""One result per row and the table ``persona chaos`` prints (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from persona.chaos.invariants import Verdict


@dataclass(frozen=True)
class RowResult:
    row: str
    verdict: Verdict
    # Seconds from the fault to the first decision on the rt topic after it, and to the drain's end
    # (everything produced was consumed and the sink committed it); None: no fault, or never.
    first_decision_s: float | None
    drained_s: float | None
    restarts: int  # flow processes found dead and started again
    note: str = ""  # how the fault went (e.g. whether a targeted moment was hit)

    @property
    def ok(self) -> bool:
        return self.verdict.ok

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


HEADER = (
    "fault",
    "events",
    "decided",
    "lost",
    "dup",
    "DLQ",
    "unsellable",
    "1st decision",
    "drained",
    "restarts",
    "result",
)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def cells(r: RowResult) -> tuple[str, ...]:
    v = r.verdict
    return (
        r.row,
        f"{v.events:,}",
        f"{v.decided:,}",
        f"{v.lost:,}",
        f"{v.duplicated:,}",
        f"{v.dlq:,}",
        f"{v.unsellable_promoted:,}",
        _seconds(r.first_decision_s),
        _seconds(r.drained_s),
        str(r.restarts),
        "ok" if r.ok else "FAIL",
    )


def render(results: Sequence[RowResult]) -> str:
    """A Markdown table (it reads as plain text too), then each failing row's reasons and notes."""
    rows = [HEADER, *(cells(r) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]

    def line(row: tuple[str, ...]) -> str:
        return (
            "| "
            + " | ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
            + " |"
        )

    out = [line(HEADER), "| " + " | ".join(("-" * w) for w in widths) + " |"]
    out += [line(cells(r)) for r in results]
    for r in results:
        if r.note:
            out.append(f"- {r.row}: {r.note}")
        for failure in r.verdict.failures:
            out.append(f"- {r.row} FAILED: {failure}")
    return "\n".join(out)
