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
    # Seconds from the fault (for a killed flow: its kill -9, which a targeted moment may delay) to
    # the first decision on the rt topic after it, and to the drain's end
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


CASE_HEADER = ("row", "poison kind", "replay", "pipeline", "result")


def _markdown(header: tuple[str, ...], body: Sequence[tuple[str, ...]], right_from: int) -> list[str]:
    rows = [header, *body]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        padded = (
            c.rjust(w) if i >= right_from else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    return [line(header), "| " + " | ".join("-" * w for w in widths) + " |", *(line(r) for r in body)]


def render(results: Sequence[RowResult]) -> str:
    """A Markdown table (it reads as plain text too), then each failing row's reasons and notes, then
    the poison kinds of the rows that carry them, one line each."""
    out = _markdown(HEADER, [cells(r) for r in results], right_from=1)
    for r in results:
        if r.note:
            out.append(f"- {r.row}: {r.note}")
        for failure in r.verdict.failures:
            out.append(f"- {r.row} FAILED: {failure}")
    cases = [
        (r.row, c.kind, c.replay, c.pipeline, "ok" if c.ok else "FAIL")
        for r in results
        for c in r.verdict.cases
    ]
    if cases:
        out += ["", *_markdown(CASE_HEADER, cases, right_from=len(CASE_HEADER) - 1)]
    return "\n".join(out)
