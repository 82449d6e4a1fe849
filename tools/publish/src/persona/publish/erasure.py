"""Erasures applied to a publication (docs/erasure.md, "The Iceberg publication"): the rows of an erased
customer that belong to the erased past are left out of what is published, by the rule the pipeline
keeps (``persona.decisions.erasure``), so a comeback's later rows are published and the old ones never
are. Pure: Arrow in, Arrow out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from persona.decisions.erasure import is_erased_past, profile_is_erased_past
from persona.paimon.erasures import timestamp_ms


def _erased_past(row: Mapping[str, object], erased_at: int) -> bool:
    as_of = row.get("rfm_as_of")
    if isinstance(as_of, dt.date):
        return profile_is_erased_past(erased_at, as_of)
    when = row.get("event_time") or row.get("updated_at")
    # A row with no time of its own cannot show it is a comeback's: it stays erased.
    return not isinstance(when, dt.datetime) or is_erased_past(erased_at, timestamp_ms(when))


def without_erased(data: pa.Table, erased: Mapping[int, int]) -> tuple[pa.Table, int]:
    """``data`` without the rows of erased customers that belong to their erased past (a profile by its
    ``rfm_as_of`` day, a decision or segment row by its ``event_time``, else ``updated_at``); and how
    many rows were left out."""
    if not erased or data.num_rows == 0:
        return data, 0
    ids = pa.array(list(erased), pa.int64())
    candidates = pc.is_in(data.column("customer_id"), value_set=ids)
    if not pc.any(candidates).as_py():
        return data, 0
    times = [name for name in ("rfm_as_of", "event_time", "updated_at") if name in data.schema.names]
    positions = pc.indices_nonzero(candidates)
    rows = data.select(["customer_id", *times]).take(positions).to_pylist()
    dropped = [
        position
        for position, row in zip(positions.to_pylist(), rows, strict=True)
        if _erased_past(row, erased[int(row["customer_id"])])
    ]
    if not dropped:
        return data, 0
    everything = pa.array(range(data.num_rows), pa.int64())
    kept = data.filter(pc.invert(pc.is_in(everything, value_set=pa.array(dropped, pa.int64()))))
    return kept, len(dropped)
