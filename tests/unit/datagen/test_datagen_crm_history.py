"""The seeded CRM history and the demo's order changes as CRM statements (pure, no database)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import orjson
import pytest

from persona.crm import ORDER_STATUSES
from persona.datagen import DataGenerator, GeneratorConfig
from persona.datagen.crm_history import (
    DAY_MS,
    HistoryConfig,
    NotAnOrderChange,
    history_customers,
    history_orders,
    order_change,
)
from persona.datagen.generator import WireRecord

CONFIG = HistoryConfig(seed=3, customers=2_000, history_days=400, end_ms=1_764_547_200_000)


def test_the_same_arguments_give_the_same_rows_and_another_seed_other_rows() -> None:
    assert list(history_orders(CONFIG)) == list(history_orders(CONFIG))
    assert list(history_customers(CONFIG)) == list(history_customers(CONFIG))
    other = list(history_orders(dataclasses.replace(CONFIG, seed=4)))
    assert other != list(history_orders(CONFIG))


def test_orders_lie_between_their_customers_creation_and_the_end_of_history() -> None:
    created = {c.customer_id: c.created_at_ms for c in history_customers(CONFIG)}
    assert set(created) == set(range(1, CONFIG.customers + 1))
    assert all(CONFIG.end_ms - CONFIG.history_days * DAY_MS <= ms < CONFIG.end_ms for ms in created.values())
    orders = list(history_orders(CONFIG))
    assert [o.order_id for o in orders] == list(range(1, len(orders) + 1))
    for order in orders:
        assert created[order.customer_id] <= order.order_time_ms < CONFIG.end_ms
        assert order.order_time_ms <= order.updated_at_ms < CONFIG.end_ms
        assert order.total_amount == order.total_amount.quantize(Decimal("0.01")) > 0


def test_the_history_covers_every_rfm_case() -> None:
    orders = list(history_orders(CONFIG))
    assert {o.status for o in orders} == set(ORDER_STATUSES)
    per_customer: dict[int, int] = {}
    for order in orders:
        per_customer[order.customer_id] = per_customer.get(order.customer_id, 0) + 1
    # Customers without orders (LAPSED/NEW), occasional buyers and frequent ones (LOYAL, VIP).
    assert len(per_customer) < CONFIG.customers
    assert min(per_customer.values()) == 1
    assert max(per_customer.values()) >= 20
    assert sum(
        o.total_amount for o in orders if o.customer_id == max(per_customer, key=per_customer.__getitem__)
    )


def _generated_orders(count: int) -> list[WireRecord]:
    gen = DataGenerator(GeneratorConfig(seed=5, customers=50, order_fraction=1.0, order_id_base=100))
    return gen.records(count, 1_764_000_000_000, 1000)


def test_generated_order_changes_become_upserts_and_deletes_of_the_same_rows() -> None:
    kinds = set()
    for record in _generated_orders(400):
        envelope = orjson.loads(record.value)
        change = order_change(record)
        kinds.add((envelope["op"], change.kind))
        assert str(change.order_id).encode() == record.key
        if change.kind == "upsert":
            assert change.row is not None
            after = envelope["after"]
            assert (change.row.status, str(change.row.total_amount)) == (
                after["status"],
                after["total_amount"],
            )
            assert change.row.customer_id == after["customer_id"]
        else:
            assert change.row is None
    assert kinds == {("c", "upsert"), ("u", "upsert"), ("d", "delete")}


@pytest.mark.parametrize(
    "value",
    [b"not json", b"[]", b'{"op": "c", "after": {"order_id": 1}}', b'{"op": "c", "after": null}'],
)
def test_a_malformed_order_record_is_not_an_order_change(value: bytes) -> None:
    with pytest.raises(NotAnOrderChange):
        order_change(WireRecord("order", b"1", value, 0))


def test_an_unknown_status_is_refused_before_it_reaches_the_crm() -> None:
    record = _generated_orders(1)[0]
    envelope = orjson.loads(record.value)
    envelope["after"]["status"] = "LOST"
    with pytest.raises(NotAnOrderChange, match="LOST"):
        order_change(WireRecord("order", record.key, orjson.dumps(envelope), 0))
