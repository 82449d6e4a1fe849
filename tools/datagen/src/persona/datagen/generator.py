"""Customers with RFM profiles, SKUs with stock, behavior events and Debezium order changes.

Everything is derived from ``GeneratorConfig.seed`` and the millisecond clock values the caller
passes in, never from the wall clock, so a scenario can be rebuilt exactly.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import orjson

Kind = Literal["event", "order"]

SEGMENTS = ("VIP", "LOYAL", "REGULAR", "NEW")
SEGMENT_WEIGHTS = (0.1, 0.25, 0.45, 0.2)
EVENT_TYPES = ("view", "add_to_cart", "search", "page_view")
EVENT_WEIGHTS = (0.55, 0.15, 0.15, 0.15)
CHANNELS = ("web", "app", "email", None)


@dataclass(frozen=True)
class GeneratorConfig:
    seed: int = 7
    customers: int = 1_000
    skus: int = 500
    # Share of customers that have a customer_profile row.
    profile_fraction: float = 0.85
    # SKUs with sellable = 0 (reserved >= available) and SKUs absent from Cassandra.
    unsellable_fraction: float = 0.05
    unknown_fraction: float = 0.10
    # Share of produced records that are order changes rather than behavior events.
    order_fraction: float = 0.05
    # Share of records replaced by a malformed line / repeated as an exact duplicate.
    malformed_fraction: float = 0.0
    duplicate_fraction: float = 0.0
    rfm_as_of: dt.date = dt.date(2026, 11, 1)
    # Customers with ids in [1, customers]; SKUs named "SKU-<n>".
    sku_prefix: str = "SKU-"
    # Distinguishes the event ids and order ids of separate runs over the same stack (the demo run
    # twice must not look like redelivered duplicates to the flows).
    run_id: str = ""
    order_id_base: int = 0


@dataclass(frozen=True, slots=True)
class WireRecord:
    """One record as it goes on the wire: the topic kind, key bytes, value bytes, its time."""

    kind: Kind
    key: bytes
    value: bytes
    time_ms: int


@dataclass
class _Order:
    order_id: int
    customer_id: int
    status: str
    total_amount: str
    order_time_ms: int
    updated_ms: int


def iso_ms(epoch_ms: int) -> str:
    return (
        dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


@dataclass
class DataGenerator:
    config: GeneratorConfig = field(default_factory=GeneratorConfig)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.config.seed)
        self._next_order_id = self.config.order_id_base + 1
        self._next_event = 1
        self._open_orders: list[_Order] = []
        self._last: WireRecord | None = None
        cfg = self.config
        sku_rng = random.Random(cfg.seed * 31 + 1)
        n_unknown = int(cfg.skus * cfg.unknown_fraction)
        # The unknown SKUs are referenced by events but never written to Cassandra.
        self.unknown_skus = frozenset(self.sku(i) for i in sku_rng.sample(range(cfg.skus), n_unknown))
        # Popularity is skewed: a few SKUs get most of the views, as in a real catalogue.
        self._sku_weights = [1.0 / (i + 1) ** 0.8 for i in range(cfg.skus)]
        self._sku_cum = list(_accumulate(self._sku_weights))

    # --- dimension data -------------------------------------------------------------------------
    def sku(self, index: int) -> str:
        return f"{self.config.sku_prefix}{index}"

    def profile_rows(self) -> Iterator[dict[str, Any]]:
        """``customer_profile`` rows with Python types (Decimal monetary, date rfm_as_of)."""
        cfg = self.config
        rng = random.Random(cfg.seed * 17 + 3)
        for customer_id in range(1, cfg.customers + 1):
            if rng.random() >= cfg.profile_fraction:
                continue
            segment = rng.choices(SEGMENTS, SEGMENT_WEIGHTS)[0]
            frequency = {"VIP": rng.randint(12, 60), "LOYAL": rng.randint(5, 20)}.get(
                segment, rng.randint(0, 6)
            )
            monetary = Decimal(rng.randint(0, 400_000) * max(frequency, 1)) / Decimal(100) / Decimal(4)
            yield {
                "customer_id": customer_id,
                "segment": segment,
                "recency": rng.randint(0, 120),
                "frequency": frequency,
                "monetary": monetary.quantize(Decimal("0.01")),
                "lifecycle_stage": "active" if frequency else "prospect",
                "rfm_as_of": cfg.rfm_as_of,
            }

    def profile_json(self, row: dict[str, Any]) -> bytes:
        return orjson.dumps(
            {**row, "monetary": str(row["monetary"]), "rfm_as_of": row["rfm_as_of"].isoformat()}
        )

    def inventory_rows(self, updated_ms: int) -> Iterator[dict[str, Any]]:
        cfg = self.config
        rng = random.Random(cfg.seed * 13 + 5)
        for i in range(cfg.skus):
            sku = self.sku(i)
            available = rng.randint(0, 200)
            if rng.random() < cfg.unsellable_fraction:
                reserved = available + rng.randint(0, 3)
            else:
                reserved = rng.randint(0, available // 4)
                available = max(available, reserved + 1)
            if sku in self.unknown_skus:
                continue
            yield {
                "sku_id": sku,
                "available_qty": available,
                "reserved_qty": reserved,
                "updated_at": iso_ms(updated_ms),
            }

    # --- facts ----------------------------------------------------------------------------------
    def records(self, count: int, start_ms: int, step_ms: float) -> list[WireRecord]:
        """``count`` records with times start_ms, start_ms + step_ms, ... (events and orders)."""
        out: list[WireRecord] = []
        for i in range(count):
            out.append(self.next_record(start_ms + int(i * step_ms)))
        return out

    def next_record(self, now_ms: int) -> WireRecord:
        cfg = self.config
        rng = self._rng
        if self._last is not None and cfg.duplicate_fraction and rng.random() < cfg.duplicate_fraction:
            return self._last
        is_order = rng.random() < cfg.order_fraction
        record = self._order_change(now_ms) if is_order else self._event(now_ms)
        if cfg.malformed_fraction and rng.random() < cfg.malformed_fraction:
            record = WireRecord(record.kind, record.key, self._malformed(record.value), now_ms)
        self._last = record
        return record

    def _pick_sku(self) -> str:
        r = self._rng.random() * self._sku_cum[-1]
        lo, hi = 0, len(self._sku_cum) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self._sku_cum[mid] < r:
                lo = mid + 1
            else:
                hi = mid
        return self.sku(lo)

    def _event(self, now_ms: int) -> WireRecord:
        rng = self._rng
        customer_id = rng.randint(1, self.config.customers)
        event_type = rng.choices(EVENT_TYPES, EVENT_WEIGHTS)[0]
        sku = self._pick_sku() if event_type in ("view", "add_to_cart") else None
        event_id = f"e-{self.config.seed}{self.config.run_id}-{self._next_event}"
        self._next_event += 1
        value = orjson.dumps(
            {
                "event_id": event_id,
                "user_id": customer_id,
                "event_type": event_type,
                "sku_id": sku,
                "event_time": iso_ms(now_ms) if rng.random() < 0.7 else now_ms,
                "session_id": f"s-{customer_id}-{now_ms // 1_800_000}",
                "channel": rng.choice(CHANNELS),
            }
        )
        return WireRecord("event", str(customer_id).encode(), value, now_ms)

    def _order_change(self, now_ms: int) -> WireRecord:
        rng = self._rng
        if self._open_orders and rng.random() < 0.6:
            order = rng.choice(self._open_orders)
            before = self._row(order)
            transition = {
                "PLACED": ("PAID", "CANCELLED"),
                "PAID": ("SHIPPED", "REFUNDED", "DELETE"),
                "SHIPPED": ("REFUNDED",),
            }.get(order.status, ())
            if not transition:
                self._open_orders.remove(order)
                return self._order_change(now_ms)
            nxt = rng.choice(transition)
            order.updated_ms = now_ms
            if nxt == "DELETE":
                self._open_orders.remove(order)
                return self._envelope("d", before, None, now_ms, order.order_id)
            order.status = nxt
            if nxt in ("CANCELLED", "REFUNDED"):
                self._open_orders.remove(order)
            return self._envelope("u", before, self._row(order), now_ms, order.order_id)
        order = _Order(
            order_id=self._next_order_id,
            customer_id=rng.randint(1, self.config.customers),
            status="PLACED",
            total_amount=f"{rng.randint(500, 50_000) / 100:.2f}",
            order_time_ms=now_ms,
            updated_ms=now_ms,
        )
        self._next_order_id += 1
        self._open_orders.append(order)
        if len(self._open_orders) > 5_000:
            self._open_orders.pop(0)
        return self._envelope("c", None, self._row(order), now_ms, order.order_id)

    def _row(self, order: _Order) -> dict[str, Any]:
        return {
            "order_id": order.order_id,
            "customer_id": order.customer_id,
            "status": order.status,
            "total_amount": order.total_amount,
            "currency": "USD",
            "order_time": iso_ms(order.order_time_ms),
            "updated_at": iso_ms(order.updated_ms),
        }

    def _envelope(
        self, op: str, before: dict[str, Any] | None, after: dict[str, Any] | None, now_ms: int, order_id: int
    ) -> WireRecord:
        value = orjson.dumps(
            {
                "before": before,
                "after": after,
                "op": op,
                "ts_ms": now_ms,
                "source": {"connector": "mysql", "db": "crm", "table": "orders"},
            }
        )
        return WireRecord("order", str(order_id).encode(), value, now_ms)

    def _malformed(self, value: bytes) -> bytes:
        choice = self._rng.randrange(4)
        if choice == 0:
            return value[: len(value) // 2]  # truncated JSON
        if choice == 1:
            return b"not json at all"
        if choice == 2:
            return value.replace(b'"user_id":', b'"user_id":"x","_":', 1).replace(
                b'"op":', b'"op":"z","_":', 1
            )
        return b"[]"


def _accumulate(values: list[float]) -> Iterator[float]:
    total = 0.0
    for v in values:
        total += v
        yield total
