"""A chaos row's input: deterministic (a seed and a fixed clock), written to the JSON-lines files
``persona replay`` reads, exactly as it is produced.

The input is the main stream (events and Debezium order changes in time order, with ~1% malformed
and ~1% repeated records, and, for the poison row, the records of each poison kind in the middle),
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

from persona.chaos.invariants import Expectation, PoisonCase, sha256_hex
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


MAX_INPUT_RECORD_BYTES = 4 << 20
"""The row's input topics (and the load's producer) take records this large, so a ~2 MB record
reaches the flows as it would on a cluster configured for large records, and must be rejected there."""


def _event(event_id: str, user_id: int, event_time: object, **extra: object) -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "user_id": user_id,
            "event_type": "view",
            "sku_id": "SKU-1",
            "event_time": event_time,
            "session_id": "s-poison",
            "channel": "web",
            **extra,
        }
    )


def _order(
    order_id: int, customer_id: int, amount: str, ts_ms: int, order_time: str, *, before: int | None = None
) -> bytes:
    def row(customer: int) -> dict[str, object]:
        return {
            "order_id": order_id,
            "customer_id": customer,
            "status": "PAID",
            "total_amount": amount,
            "currency": "USD",
            "order_time": order_time,
            "updated_at": order_time,
        }

    op = "c" if before is None else "u"
    envelope = {"before": None if before is None else row(before), "after": row(customer_id), "op": op}
    return orjson.dumps({**envelope, "ts_ms": ts_ms, "source": {}})


def poison_cases(at_ms: int) -> list[tuple[PoisonCase, list[WireRecord]]]:
    """One case per poison kind (issue 17), with its records and what must become of them: none may
    stop a flow, each ends as replay says. None holds a line break (the replay files are JSON lines)."""
    control = bytes(b for b in range(32) if b not in (10, 13)) * 6_900  # ~200 KB of control bytes
    now_iso = iso_ms(at_ms)
    year_9999 = "9999-01-01T00:00:00.000Z"
    year_9999_ms = int(dt.datetime(9999, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)

    def ev(value: bytes, user: int = 7) -> WireRecord:
        return WireRecord("event", str(user).encode(), value, at_ms)

    def order(value: bytes, order_id: int) -> WireRecord:
        return WireRecord("order", str(order_id).encode(), value, at_ms)

    raw: list[tuple[str, Expectation, str, list[WireRecord]]] = [
        ("unparseable JSON", "rejected", "", [ev(b'{"event_id": "p-unparseable", "user_id": 7, "event_')]),
        (
            "200 KB of control bytes",
            "rejected",
            "",
            [ev(b'{"event_id": "p-control", "junk": "' + control + b'"}')],
        ),
        ("2 MB record", "rejected", "exceeds", [ev(_event("p-2mb", 7, now_iso, padding="x" * 2_000_000))]),
        (
            "invalid UTF-8",
            "rejected",
            "utf-8",
            [ev(_event("p-utf8-@@", 7, now_iso).replace(b"@@", b"\xff\xfe"))],
        ),
        (
            "amount with 3 decimals",
            "rejected",
            "amount_scale",
            [order(_order(990_001, 9, "123.456", at_ms, now_iso), 990_001)],
        ),
        (
            "year-9999 time",
            "rejected",
            "implausible_time",
            [
                ev(_event("p-year-9999", 7, year_9999)),
                order(_order(990_002, 9, "10.00", year_9999_ms, year_9999), 990_002),
            ],
        ),
        (
            "time 0",
            "rejected",
            "implausible_time",
            [
                ev(_event("p-time-0", 7, 0)),
                order(_order(990_003, 9, "10.00", at_ms, "1970-01-01T00:00:00.000Z"), 990_003),
            ],
        ),
        (
            "epoch seconds",
            "rejected",
            "epoch_seconds",
            [
                ev(_event("p-epoch-seconds", 7, at_ms // 1000)),
                order(_order(990_004, 9, "10.00", at_ms // 1000, now_iso), 990_004),
            ],
        ),
    ]
    out = [
        (PoisonCase(kind, tuple(sha256_hex(r.value)[:16] for r in records), expect, rule), records)
        for kind, expect, rule, records in raw
    ]
    # Not poison: valid records the stream and replay must decide alike (README: "Moved orders" and
    # "Event identity").
    moved = [
        order(_order(990_005, 9, "250.00", at_ms, now_iso), 990_005),
        order(_order(990_005, 11, "250.00", at_ms + 1, now_iso, before=9), 990_005),
    ]
    out.append(
        (PoisonCase("order moved between customers", _digests(moved), "applied", customers=(9, 11)), moved)
    )
    shared = [ev(_event("p-shared-id", 7, now_iso)), ev(_event("p-shared-id", 8, now_iso), user=8)]
    out.append(
        (
            PoisonCase(
                "one event_id, two customers",
                _digests(shared),
                "decided",
                decisions=(("p-shared-id", 7), ("p-shared-id", 8)),
            ),
            shared,
        )
    )
    return out


def _digests(records: Sequence[WireRecord]) -> tuple[str, ...]:
    return tuple(sha256_hex(r.value)[:16] for r in records)


@dataclass(frozen=True)
class ChaosInput:
    generator: DataGenerator
    main: list[WireRecord]
    closing: list[WireRecord]
    stock: dict[str, int]  # sku -> sellable, as loaded into Cassandra (unknown SKUs absent)
    cases: tuple[PoisonCase, ...] = ()  # the poison kinds in ``main``, each checked on its own

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
    cases: list[PoisonCase] = []
    if poison:
        middle = len(main) // 2
        for case, records in poison_cases(main[middle].time_ms):
            cases.append(case)
            main[middle:middle] = records
            middle += len(records)
    end_ms = START_MS + (size.records + 10) * STEP_MS
    stock = {
        r["sku_id"]: sellable(r["available_qty"], r["reserved_qty"]) for r in gen.inventory_rows(START_MS)
    }
    return ChaosInput(gen, main, closing_round(gen, size.customers, end_ms), stock, tuple(cases))


def split_by_kind(records: Sequence[WireRecord]) -> tuple[int, int]:
    """(events, order changes)."""
    events = sum(r.kind == "event" for r in records)
    return events, len(records) - events
