"""orders_cdc (Debezium envelope) parsing into normalized OrderFact (DESIGN §3)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from persona.contracts import Err, Ok, OrderFact, parse_order_change

ROW: dict[str, Any] = {
    "order_id": 100,
    "customer_id": 7,
    "status": "PAID",
    "total_amount": "274.13",
    "currency": "VND",
    "order_time": "2026-11-19T03:10:00Z",
    "updated_at": "2026-11-19T03:10:38Z",
}
ORDER_MS = 1795057800000
UPDATED_MS = 1795057838000


def envelope(
    op: str = "c", before: Any = None, after: Any = ROW, ts_ms: Any = UPDATED_MS, **extra: Any
) -> bytes:
    doc = {"before": before, "after": after, "op": op, "ts_ms": ts_ms, "source": {"table": "orders"}, **extra}
    return orjson.dumps(doc)


def row(**changes: Any) -> dict[str, Any]:
    return {**ROW, **changes}


def ok(data: bytes) -> OrderFact:
    result = parse_order_change(data)
    assert isinstance(result, Ok), result
    return result.value


def err(data: bytes) -> str:
    result = parse_order_change(data)
    assert isinstance(result, Err), result
    assert result.raw == data
    return result.reason


def test_create_uses_after() -> None:
    assert ok(envelope("c")) == OrderFact(
        order_id=100,
        customer_id=7,
        status="PAID",
        total_amount=Decimal("274.13"),
        currency="VND",
        order_time_ms=ORDER_MS,
        updated_at_ms=UPDATED_MS,
        op="c",
        ts_ms=UPDATED_MS,
        deleted=False,
    )


@pytest.mark.parametrize("op", ["u", "r"])
def test_update_and_snapshot_use_after(op: str) -> None:
    f = ok(envelope(op, before=row(status="PLACED"), after=row(status="SHIPPED")))
    assert (f.op, f.status, f.deleted, f.counts) == (op, "SHIPPED", False, True)


def test_delete_uses_before_and_is_flagged() -> None:
    f = ok(envelope("d", before=row(status="PAID"), after=None))
    assert (f.op, f.status, f.deleted, f.counts) == ("d", "PAID", True, False)


@pytest.mark.parametrize(
    ("status", "counts"),
    [("PAID", True), ("SHIPPED", True), ("PLACED", False), ("CANCELLED", False), ("REFUNDED", False)],
)
def test_statuses_and_counting(status: str, counts: bool) -> None:
    assert ok(envelope(after=row(status=status))).counts is counts


def test_schema_payload_wrapper_is_unwrapped() -> None:
    inner = orjson.loads(envelope("u", before=row(), after=row(status="SHIPPED")))
    data = orjson.dumps({"schema": {"type": "struct", "fields": []}, "payload": inner})
    assert ok(data).status == "SHIPPED"


@pytest.mark.parametrize("amount", ["274.13", 274.13, "274.130"])
def test_total_amount_string_or_number(amount: object) -> None:
    assert ok(envelope(after=row(total_amount=amount))).total_amount == Decimal("274.13")


def test_total_amount_number_keeps_decimal_text() -> None:
    # A JSON number is taken as its decimal text, never through a binary float.
    assert ok(envelope(after=row(total_amount=0.1))).total_amount == Decimal("0.1")
    assert ok(envelope(after=row(total_amount=5))).total_amount == Decimal(5)


def test_negative_zero_amount_is_zero() -> None:
    assert str(ok(envelope(after=row(total_amount="-0.00"))).total_amount) == "0.00"


@pytest.mark.parametrize(
    "amount", ["-1.00", -5, "NaN", "Infinity", "abc", "", "AKs=", True, None, "1e10", "0.0000001", [1]]
)
def test_bad_total_amount(amount: object) -> None:
    assert "total_amount" in err(envelope(after=row(total_amount=amount)))


@pytest.mark.parametrize("op", ["x", "t", "", "C", None, 1])
def test_unknown_or_missing_op(op: object) -> None:
    reason = err(envelope(op))  # type: ignore[arg-type]
    assert "op" in reason


def test_missing_op_key() -> None:
    assert "op" in err(orjson.dumps({"before": None, "after": ROW, "ts_ms": 1}))


def test_create_without_after_and_delete_without_before() -> None:
    assert "after" in err(envelope("c", after=None))
    assert "after" in err(envelope("u", before=ROW, after=None))
    assert "before" in err(envelope("d", before=None, after=None))


@pytest.mark.parametrize("ts_ms", [None, "1795057838000", 1.5, True, -1])
def test_bad_ts_ms(ts_ms: object) -> None:
    assert "ts_ms" in err(envelope(ts_ms=ts_ms))


def test_missing_ts_ms() -> None:
    assert "ts_ms" in err(orjson.dumps({"before": None, "after": ROW, "op": "c"}))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("order_id", "100"),
        ("order_id", True),
        ("order_id", 0),
        ("customer_id", 0),
        ("customer_id", -7),
        ("customer_id", 7.0),
        ("customer_id", False),
        ("status", "SHIPPING"),
        ("status", "paid"),
        ("status", None),
        ("currency", ""),
        ("currency", None),
        ("order_time", "2026-11-19T03:10:00"),  # naive
        ("order_time", "soon"),
        ("updated_at", 1.5),
    ],
)
def test_bad_row_fields(field: str, value: object) -> None:
    reason = err(envelope(after=row(**{field: value})))
    assert field in reason or "status" in reason


@pytest.mark.parametrize("field", list(ROW))
def test_row_missing_field(field: str) -> None:
    r = row()
    del r[field]
    assert field in err(envelope(after=r))


def test_epoch_millis_row_times() -> None:
    f = ok(envelope(after=row(order_time=ORDER_MS, updated_at=UPDATED_MS)))
    assert (f.order_time_ms, f.updated_at_ms) == (ORDER_MS, UPDATED_MS)


@pytest.mark.parametrize("data", [b"", b"null", b"[]", b"{", b"\x00\x01"])
def test_unparseable(data: bytes) -> None:
    err(data)


def test_oversized_record() -> None:
    assert "exceeds" in err(envelope(source={"pad": "x" * (1024 * 1024)}))
