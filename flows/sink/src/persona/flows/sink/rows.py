"""The sink's Paimon rows: ``segment_decisions`` (the audit) from decision messages, typed to the
table's schema (``conform``).

A decision whose values the table cannot hold (a money amount with more decimals than its DECIMAL
column, a count beyond INT, a time beyond year 9999) fails the conversion of its whole batch;
``audit_rows`` then converts the batch in halves down to the decisions at fault, so every other one
is written and only those become dead letters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from persona.contracts import DecisionEnvelope

# The row builders live with the adapter: the sink and ``persona logic replay`` write the same rows.
from persona.paimon.decision_rows import DECISIONS_SCHEMA, conform, decisions_table, latest_segments

__all__ = [
    "DECISIONS_SCHEMA",
    "UNWRITABLE_VALUE_ERRORS",
    "Unwritable",
    "audit_rows",
    "conform",
    "decisions_table",
    "latest_segments",
]

# What converting a value the table cannot hold raises: pyarrow's ArrowInvalid (a ValueError: decimal
# scale or precision, integer range), datetime's OverflowError and ValueError (a year past 9999).
UNWRITABLE_VALUE_ERRORS: tuple[type[Exception], ...] = (
    pa.ArrowException,
    ValueError,
    TypeError,
    OverflowError,
    ArithmeticError,
)


@dataclass(frozen=True, slots=True)
class Unwritable:
    """A decision the audit table cannot hold: its index in the batch, and why."""

    index: int
    envelope: DecisionEnvelope
    error: str


def audit_rows(
    envs: Sequence[DecisionEnvelope], schema: pa.Schema = DECISIONS_SCHEMA
) -> tuple[pa.Table | None, list[Unwritable]]:
    """The audit rows of every decision of ``envs`` the table can hold (None when there is none), and
    the decisions it cannot hold, in order. One conversion when every decision fits."""
    try:
        return decisions_table(envs, schema), []
    except UNWRITABLE_VALUE_ERRORS:
        pass
    tables: list[pa.Table] = []
    unwritable: list[Unwritable] = []
    _split(envs, 0, schema, tables, unwritable)
    return (pa.concat_tables(tables) if tables else None), unwritable


def _split(
    envs: Sequence[DecisionEnvelope],
    offset: int,
    schema: pa.Schema,
    tables: list[pa.Table],
    unwritable: list[Unwritable],
) -> None:
    """Convert ``envs`` (known to fail as a whole) in halves: k bad decisions among n cost O(k log n)
    conversions, each good half is converted once."""
    if len(envs) == 1:
        try:
            tables.append(decisions_table(envs, schema))
        except UNWRITABLE_VALUE_ERRORS as error:
            unwritable.append(Unwritable(offset, envs[0], f"{type(error).__name__}: {error}"))
        return
    middle = len(envs) // 2
    for start, half in ((0, envs[:middle]), (middle, envs[middle:])):
        if len(half) > 1:
            try:
                tables.append(decisions_table(half, schema))
                continue
            except UNWRITABLE_VALUE_ERRORS:
                pass
        _split(half, offset + start, schema, tables, unwritable)
