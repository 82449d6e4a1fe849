"""The pure rfm-v1 rules over Arrow batches: what runs inside Spark's ``mapInArrow``.

Input batches are the job's per-customer aggregates (``AGGREGATE_SCHEMA``, days as days since the
epoch); output batches are ``customer_profile`` rows. Customers created after the as-of date have no
row. The classification itself is ``persona.decisions.rfm.classify``, the function the unit tests pin.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pyarrow as pa

from persona.decisions.rfm import RfmAggregate, RfmV1Config, classify
from persona.paimon.schema import CUSTOMER_PROFILE

EPOCH = dt.date(1970, 1, 1)

AGGREGATE_SCHEMA = pa.schema(
    [
        pa.field("customer_id", pa.int64(), nullable=False),
        pa.field("created_day", pa.int32(), nullable=False),
        pa.field("frequency", pa.int64()),
        pa.field("monetary", pa.decimal128(22, 2)),
        pa.field("last_day", pa.int32()),
    ]
)

# The table's own schema (persona.paimon.schema): the batches are written to it as they are.
PROFILE_SCHEMA: pa.Schema = CUSTOMER_PROFILE.schema


def epoch_day(day: dt.date) -> int:
    return (day - EPOCH).days


def classify_batch(batch: pa.RecordBatch, as_of: dt.date, config: RfmV1Config) -> pa.RecordBatch:
    columns = batch.to_pydict()
    out: dict[str, list[object]] = {name: [] for name in PROFILE_SCHEMA.names}
    for customer_id, created_day, frequency, monetary, last_day in zip(
        columns["customer_id"],
        columns["created_day"],
        columns["frequency"],
        columns["monetary"],
        columns["last_day"],
        strict=True,
    ):
        profile = classify(
            RfmAggregate(
                customer_id=customer_id,
                created_on=EPOCH + dt.timedelta(days=created_day),
                frequency=frequency or 0,
                monetary=monetary if monetary is not None else Decimal("0.00"),
                last_counted_on=None if last_day is None else EPOCH + dt.timedelta(days=last_day),
            ),
            as_of,
            config,
        )
        if profile is None:
            continue
        out["customer_id"].append(profile.customer_id)
        out["segment"].append(profile.segment)
        out["recency"].append(profile.recency)
        out["frequency"].append(profile.frequency)
        out["monetary"].append(profile.monetary)
        out["lifecycle_stage"].append(profile.lifecycle_stage)
        out["rfm_as_of"].append(profile.rfm_as_of)
    return pa.RecordBatch.from_pydict(out, schema=PROFILE_SCHEMA)


def classify_batches(
    batches: Iterator[pa.RecordBatch], as_of: dt.date, config: RfmV1Config
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield classify_batch(batch, as_of, config)
