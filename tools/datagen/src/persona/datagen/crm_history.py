"""A deterministic CRM: customers and their order history, for `persona crm seed`, the RFM job's tests
and its benchmark; and the demo's order changes turned into CRM statements.

Like the event generator, everything follows from a seed and the end time the caller passes: the
same arguments give the same rows, so a seed can be compared with an independent computation.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import orjson

from persona.contracts import time_to_ms
from persona.crm import CrmCustomer, CrmOrder, OrderChange
from persona.datagen.generator import WireRecord

DAY_MS = 86_400_000
# Status of a history order, by weight: most orders of the past were paid and shipped.
HISTORY_STATUSES = ("SHIPPED", "PAID", "CANCELLED", "REFUNDED", "PLACED")
HISTORY_STATUS_WEIGHTS = (0.62, 0.18, 0.08, 0.07, 0.05)


@dataclass(frozen=True)
class HistoryConfig:
    seed: int = 7
    customers: int = 1_000
    history_days: int = 400
    # Orders per customer on average over the history; some customers have none, a few many.
    mean_orders: float = 8.0
    # The history ends here (exclusive): normally midnight UTC of today, passed by the caller.
    end_ms: int = 1_764_547_200_000  # 2025-12-01T00:00:00Z
    currency: str = "USD"

    def __post_init__(self) -> None:
        if self.customers < 0 or self.history_days < 1 or self.mean_orders < 0:
            raise ValueError("customers >= 0, history_days >= 1 and mean_orders >= 0 are required")


def history_customers(config: HistoryConfig) -> Iterator[CrmCustomer]:
    """Customers 1..N, created at some time within the history (a few just before its end: NEW)."""
    rng = random.Random(config.seed * 7919 + 11)
    span = config.history_days * DAY_MS
    start = config.end_ms - span
    for customer_id in range(1, config.customers + 1):
        created = start + int(rng.random() * span)
        yield CrmCustomer(customer_id, f"customer{customer_id}@example.com", created)


def history_orders(config: HistoryConfig) -> Iterator[CrmOrder]:
    """Each customer's orders between its creation and the end of the history, ids from 1 upwards.

    Order counts are skewed (a geometric-like spread around ``mean_orders``) so every RFM segment
    occurs: customers without orders, occasional buyers, loyal ones and a few big spenders.
    """
    rng = random.Random(config.seed * 104_729 + 17)
    order_id = 1
    for customer in history_customers(config):
        lifetime = config.end_ms - customer.created_at_ms
        count = min(int(rng.expovariate(1.0 / config.mean_orders)) if config.mean_orders else 0, 200)
        big_spender = rng.random() < 0.05
        for _ in range(count):
            order_time = customer.created_at_ms + int(rng.random() * lifetime)
            cents = rng.randint(20_000, 150_000) if big_spender else rng.randint(500, 30_000)
            status = rng.choices(HISTORY_STATUSES, HISTORY_STATUS_WEIGHTS)[0]
            updated = min(order_time + rng.randint(0, 3 * DAY_MS), config.end_ms - 1)
            yield CrmOrder(
                order_id=order_id,
                customer_id=customer.customer_id,
                status=status,
                total_amount=Decimal(cents) / 100,
                currency=config.currency,
                order_time_ms=order_time,
                updated_at_ms=updated,
            )
            order_id += 1


class NotAnOrderChange(ValueError):
    """A generated order record that no CRM statement can express (the generator's malformed ones)."""


def order_change(record: WireRecord) -> OrderChange:
    """The CRM statement behind a generated Debezium envelope: the demo plays the shop's writes.

    An insert or update becomes an upsert of the after row, a delete the delete of the before row's
    order; what Debezium then emits from the binlog is what the cdc flow reads.
    """
    try:
        envelope = orjson.loads(record.value)
        op = envelope["op"]
        if op == "d":
            return OrderChange("delete", int(envelope["before"]["order_id"]))
        row = envelope["after"]
        order = CrmOrder(
            order_id=int(row["order_id"]),
            customer_id=int(row["customer_id"]),
            status=str(row["status"]),
            total_amount=Decimal(str(row["total_amount"])),
            currency=str(row["currency"]),
            order_time_ms=time_to_ms(row["order_time"]),
            updated_at_ms=time_to_ms(row["updated_at"]),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, ArithmeticError) as error:
        raise NotAnOrderChange(f"not an order change: {type(error).__name__}: {error}") from None
    return OrderChange("upsert", order.order_id, order)
