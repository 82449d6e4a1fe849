"""The RFM job's view of the ``erasures`` table: each erased customer's newest erasure instant, as the
Arrow table its Spark query keeps the customer's earlier orders out with (pure Arrow, no Spark)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from persona.jobs.rfm.job import ERASED_SCHEMA, erased_frame
from persona.paimon import ERASURES, latest_erasures


def _erasures(*rows: tuple[int, dt.datetime]) -> pa.Table:
    return pa.table(
        {"customer_id": [customer for customer, _ in rows], "requested_at": [at for _, at in rows]},
        schema=pa.schema([ERASURES.schema.field("customer_id"), ERASURES.schema.field("requested_at")]),
    )


def _ms(at: dt.datetime) -> int:
    return int(at.replace(tzinfo=dt.UTC).timestamp() * 1000)


def test_each_customer_is_kept_out_until_their_newest_erasure() -> None:
    first = dt.datetime(2026, 11, 1, 12, 0)
    second = dt.datetime(2026, 11, 20, 8, 30, 0, 250_000)
    got = erased_frame(latest_erasures(_erasures((7, first), (9, first), (7, second))))
    assert got.schema == ERASED_SCHEMA
    assert dict(
        zip(got.column("customer_id").to_pylist(), got.column("erased_ms").to_pylist(), strict=True)
    ) == {
        7: _ms(second),
        9: _ms(first),
    }


def test_no_erasure_keeps_no_one_out() -> None:
    got = erased_frame(latest_erasures(_erasures()))
    assert got.num_rows == 0 and got.schema == ERASED_SCHEMA
