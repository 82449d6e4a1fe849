"""A chaos row's input: deterministic (a seed and a fixed clock), written to the JSON-lines files
``persona replay`` reads, exactly as it is produced.

The input is the main stream (events and Debezium order changes in time order, with ~1% malformed
and ~1% repeated records, and, for the poison row, one poison record of each kind in the middle),
then a *closing round*: one event per customer, later than everything else, produced only once the
flows have applied every order change. The flows decide an event as its customer's state stands
when it arrives; an order change reaches the enrich flow one hop later (through the cdc flow), and
a flow restarted from its last snapshot reads its inputs again side by side, so a decision made
near a restart may see an order change that replay (time order) applies after it. The closing
round decides every customer once more with every order applied on both sides: its decisions,
the final ones, must equal replay's whatever happened before.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from persona.datagen import DataGenerator, GeneratorConfig, WireRecord
from persona.datagen.generator import iso_ms
from persona.datagen.loaders import write_files
from persona.inventory import sellable

# A fixed clock: the input is the same on every run and machine; the day is plausible (recent, past).
START_MS = int(dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC).timestamp() * 1000)
STEP_MS = 1_000
RFM_AS_OF = dt.date(2026, 11, 21)


@dataclass(frozen=True)
class InputSize:
    customers: int = 120
    skus: int = 60
    records: int = 1_500  # the main stream, events and order changes
    rate: float = 150.0  # records/s offered while the row runs


def poison_records(at_ms: int) -> list[WireRecord]:
    """One poison record of each kind (issue 17): every one must end in a dead letter or a decision,
    and none may stop a flow. None holds a line break (the replay files are JSON lines)."""
    control = bytes(b for b in range(32) if b not in (10, 13)) * 6_900  # ~200 KB of control bytes
    event = {
        "user_id": 7,
        "event_type": "view",
        "sku_id": "SKU-1",
        "session_id": "s-poison",
        "channel": "web",
    }

    def ev(event_id: str, event_time: object) -> WireRecord:
        value = orjson.dumps({"event_id": event_id, **event, "event_time": event_time})
        return WireRecord("event", b"7", value, at_ms)

    def order(order_id: int, amount: str, ts_ms: int, order_time: str) -> WireRecord:
        row = {
            "order_id": order_id,
            "customer_id": 9,
            "status": "PAID",
            "total_amount": amount,
            "currency": "USD",
            "order_time": order_time,
            "updated_at": order_time,
        }
        value = orjson.dumps({"before": None, "after": row, "op": "c", "ts_ms": ts_ms, "source": {}})
        return WireRecord("order", str(order_id).encode(), value, at_ms)

    year_9999_ms = int(dt.datetime(9999, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
    return [
        WireRecord("event", b"7", b'{"event_id": "p-unparseable", "user_id": 7, "event_', at_ms),
        WireRecord("event", b"7", b'{"event_id": "p-control", "junk": "' + control + b'"}', at_ms),
        ev("p-year-9999", "9999-01-01T00:00:00.000Z"),
        ev("p-epoch-seconds", at_ms // 1000),
        order(990_001, "123.456", at_ms, iso_ms(at_ms)),
        order(990_002, "10.00", year_9999_ms, "9999-01-01T00:00:00.000Z"),
    ]


@dataclass(frozen=True)
class ChaosInput:
    generator: DataGenerator
    main: list[WireRecord]
    closing: list[WireRecord]
    stock: dict[str, int]  # sku -> sellable, as loaded into Cassandra (unknown SKUs absent)

    @property
    def events(self) -> int:
        return sum(r.kind == "event" for r in (*self.main, *self.closing))

    def write_files(self, out_dir: Path) -> dict[str, Path]:
        """The replay inputs: every produced record, main stream then closing round."""
        return write_files(self.generator, out_dir, [*self.main, *self.closing], START_MS)


def closing_round(gen: DataGenerator, customers: int, after_ms: int) -> list[WireRecord]:
    rng = random.Random(customers)
    out = []
    for i, customer_id in enumerate(range(1, customers + 1)):
        at = after_ms + i * 10
        value = orjson.dumps(
            {
                "event_id": f"close-{customer_id}",
                "user_id": customer_id,
                "event_type": "view",
                "sku_id": gen.sku(rng.randrange(gen.config.skus)),
                "event_time": iso_ms(at),
                "session_id": f"s-close-{customer_id}",
                "channel": "web",
            }
        )
        out.append(WireRecord("event", str(customer_id).encode(), value, at))
    return out


def build_input(seed: int, size: InputSize, *, poison: bool) -> ChaosInput:
    gen = DataGenerator(
        GeneratorConfig(
            seed=seed,
            customers=size.customers,
            skus=size.skus,
            order_fraction=0.1,
            malformed_fraction=0.01,
            duplicate_fraction=0.01,
            rfm_as_of=RFM_AS_OF,
        )
    )
    main = gen.records(size.records, START_MS, STEP_MS)
    if poison:
        middle = len(main) // 2
        main[middle:middle] = poison_records(main[middle].time_ms)
    end_ms = START_MS + (size.records + 10) * STEP_MS
    stock = {
        r["sku_id"]: sellable(r["available_qty"], r["reserved_qty"]) for r in gen.inventory_rows(START_MS)
    }
    return ChaosInput(gen, main, closing_round(gen, size.customers, end_ms), stock)


def split_by_kind(records: Sequence[WireRecord]) -> tuple[int, int]:
    """(events, order changes)."""
    events = sum(r.kind == "event" for r in records)
    return events, len(records) - events
