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
from typing import Any

import msgspec
import pyarrow as pa

from persona.contracts import CandidateSku, DecisionEnvelope, ms_to_iso
from persona.contracts.timeutil import DAY_MS
from persona.paimon.schema import SEGMENT_DECISIONS

DECISIONS_SCHEMA: pa.Schema = SEGMENT_DECISIONS.schema
"""The columns of the ``segment_decisions`` table, as this version of persona writes them."""


class _CandidatesJson(msgspec.Struct, gc=False):
    """The ``candidates_json`` column: the stock the decision saw (field order is the JSON's)."""

    event_sku_sellable: int | None
    adjusting_order_ids: tuple[int, ...]
    candidates: tuple[CandidateSku, ...]


_json = msgspec.json.Encoder()


def _snapshot_id(label: str | None) -> int | None:
    if label and label.startswith("snapshot:"):
        try:
            return int(label.split(":", 1)[1])
        except ValueError:
            return None
    return None


def _tag(label: str | None) -> str | None:
    return label if label and not label.startswith("snapshot:") else None


def conform(columns: dict[str, Any], schema: pa.Schema, rows: int) -> pa.Table:
    """A table of exactly ``schema`` from named columns (Python sequences or Arrow arrays, cast where
    the type differs); a schema column not given (added by schema evolution after the rows were
    made) is all null, and given columns the schema lacks are dropped."""
    arrays = []
    for f in schema:
        column = columns.get(f.name)
        if column is None:
            arrays.append(pa.nulls(rows, type=f.type))
        elif isinstance(column, pa.Array | pa.ChunkedArray):
            arrays.append(column if column.type == f.type else column.cast(f.type))
        else:
            arrays.append(pa.array(column, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def decisions_table(envs: Sequence[DecisionEnvelope], schema: pa.Schema = DECISIONS_SCHEMA) -> pa.Table:
    """``segment_decisions`` rows: one per decision, with every input it used (DESIGN §3)."""
    audits = [e.audit for e in envs]
    days: dict[int, str] = {}
    event_dates: list[str] = []
    for a in audits:
        day = a.event_time_ms // DAY_MS
        text = days.get(day)
        if text is None:
            text = days[day] = ms_to_iso(day * DAY_MS)[:10]
        event_dates.append(text)
    labels = [a.profile_snapshot for a in audits]
    return conform(
        {
            "event_date": event_dates,
            "event_id": [a.event_id for a in audits],
            "customer_id": [a.customer_id for a in audits],
            # TIMESTAMP(3) columns are zone-less; persona stores UTC wall time (epoch ms) in them.
            "event_time": [a.event_time_ms for a in audits],
            "event_type": [a.event_type for a in audits],
            "sku_id": [a.event_sku_id for a in audits],
            "segment": [a.segment for a in audits],
            "rule": [a.rule for a in audits],
            "score": [a.score for a in audits],
            "recommendation": [a.recommendation for a in audits],
            "profile_segment": [a.profile_segment for a in audits],
            "profile_recency": [a.profile_recency for a in audits],
            "profile_frequency": [a.profile_frequency for a in audits],
            "profile_monetary": [a.profile_monetary for a in audits],
            "profile_rfm_as_of": [a.profile_rfm_as_of for a in audits],
            "profile_snapshot": [_snapshot_id(label) for label in labels],
            "profile_tag": [_tag(label) for label in labels],
            "effective_recency": [a.recency for a in audits],
            "effective_frequency": [a.frequency for a in audits],
            "effective_monetary": [a.monetary for a in audits],
            "candidates_json": [
                _json.encode(
                    _CandidatesJson(a.event_sku_sellable, a.adjusting_order_ids, a.candidates)
                ).decode()
                for a in audits
            ],
            "logic_version": [a.logic_version for a in audits],
            "decided_at": [a.decided_at_ms for a in audits],
            "version": [e.version for e in envs],
            "channel_preference": [a.channel_preference for a in audits],
        },
        schema,
        len(audits),
    )


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
