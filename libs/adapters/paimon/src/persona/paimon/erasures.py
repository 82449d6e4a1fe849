"""The ``erasures`` table as its readers need it (docs/erasure.md): each erased customer's newest
erasure instant, the one the erasure rule (``persona.decisions.erasure``) judges records by. Read by
the Iceberg publication and the nightly RFM job, which both keep erased customers out."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa


def latest_erasures(erasures: pa.Table) -> dict[int, int]:
    """customer_id -> the newest erasure's ``requested_at`` (epoch ms), from rows of ``erasures``
    (``customer_id``, ``requested_at``); rows missing either are ignored."""
    erased: dict[int, int] = {}
    for row in erasures.select(["customer_id", "requested_at"]).to_pylist():
        at = row["requested_at"]
        if row["customer_id"] is None or at is None:
            continue
        ms = timestamp_ms(at)
        erased[row["customer_id"]] = max(ms, erased.get(row["customer_id"], ms))
    return erased


def timestamp_ms(value: dt.datetime) -> int:
    """Epoch ms of a Paimon ``TIMESTAMP(3)`` value, which reads as a naive datetime in UTC."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return int(aware.timestamp() * 1000)
