"""Paimon rows of decisions: ``segment_decisions`` (the audit) and ``marketing_segments`` (the newest
decision of each customer), typed to the tables' schemas (``conform``).

Shared by the sink flow (``persona.flows.sink``) and the branch replay of ``persona logic``, so both
write the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

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


def latest_segments(decisions: pa.Table, schema: pa.Schema) -> pa.Table:
    """``marketing_segments`` upserts from decision rows: the newest version of each customer (the
    later row among equal versions, as a replay after recovery re-sends them), as that table's rows."""
    if decisions.num_rows == 0:
        return conform({}, schema, 0)
    customers = decisions.column("customer_id")
    # sort_indices is a stable sort: ties in (customer, version) keep their arrival order, so the
    # later of two equal versions (a replay) is the last of its group.
    order = pc.sort_indices(
        pa.table({"c": customers, "v": decisions.column("version")}),
        sort_keys=[("c", "ascending"), ("v", "ascending")],
    )
    ordered = decisions.take(order)
    ids = ordered.column("customer_id").combine_chunks()
    last = pc.not_equal(ids.slice(0, len(ids) - 1), ids.slice(1))
    keep = pa.concat_arrays([last, pa.array([True])])
    newest = ordered.filter(keep)
    columns = {
        "customer_id": newest.column("customer_id"),
        "segment": newest.column("segment"),
        "recommendation": newest.column("recommendation"),
        "score": newest.column("score"),
        # A decision's row is updated when it is decided.
        "updated_at": newest.column("decided_at"),
        "event_time": newest.column("event_time"),
        "logic_version": newest.column("logic_version"),
        "version": newest.column("version"),
    }
    # Columns added to marketing_segments by schema evolution: filled where the decisions carry them.
    for name in schema.names:
        if name not in columns and name in newest.column_names:
            columns[name] = newest.column(name)
    return conform(columns, schema, newest.num_rows)
