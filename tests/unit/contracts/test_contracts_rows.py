"""Inventory rows, customer profiles, decision messages and DLQ records: parsing and bad input."""

from __future__ import annotations

import base64
import hashlib
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
import pytest

from persona.contracts import (
    MAX_RECORD_BYTES,
    CustomerProfile,
    Decision,
    Err,
    InventoryRow,
    Ok,
    dlq_record_to_json,
    parse_customer_profile,
    parse_decision_message,
    parse_dlq_record,
    parse_inventory_row,
)

_MISSING = object()


def _doc(base: dict[str, Any], changes: dict[str, Any]) -> bytes:
    doc = {**base, **changes}
    return orjson.dumps({k: v for k, v in doc.items() if v is not _MISSING})


# --- inventory ------------------------------------------------------------------------------------------

INV = {"sku_id": "SKU-1", "available_qty": 12, "reserved_qty": 2, "updated_at": "2026-11-21T00:00:00Z"}


def test_inventory_row_and_sellable() -> None:
    result = parse_inventory_row(_doc(INV, {}))
    assert result == Ok(InventoryRow("SKU-1", 12, 2, 1795219200000))
    assert isinstance(result, Ok) and result.value.sellable == 10


@pytest.mark.parametrize(("available", "reserved", "sellable"), [(0, 3, 0), (1, 1, 0), (5, 0, 5), (3, 7, 0)])
def test_sellable_is_never_negative(available: int, reserved: int, sellable: int) -> None:
    assert InventoryRow("S", available, reserved).sellable == sellable


def test_inventory_updated_at_optional() -> None:
    assert parse_inventory_row(_doc(INV, {"updated_at": _MISSING})) == Ok(InventoryRow("SKU-1", 12, 2, None))
    assert parse_inventory_row(_doc(INV, {"updated_at": None})) == Ok(InventoryRow("SKU-1", 12, 2, None))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("available_qty", -1),  # negative quantities are bad input
        ("reserved_qty", -5),
        ("available_qty", 1.5),
        ("available_qty", True),
        ("available_qty", "12"),
        ("available_qty", None),
        ("reserved_qty", 2**63),
        ("sku_id", ""),
        ("sku_id", 1),
        ("sku_id", None),
        ("sku_id", "S" * 257),
        ("updated_at", "2026-11-21T00:00:00"),
        ("available_qty", _MISSING),
        ("sku_id", _MISSING),
    ],
)
def test_bad_inventory(field: str, value: object) -> None:
    data = _doc(INV, {field: value})
    result = parse_inventory_row(data)
    assert isinstance(result, Err) and field in result.reason and result.raw == data


# --- profiles -------------------------------------------------------------------------------------------

PROFILE = {
    "customer_id": 3,
    "segment": "VIP",
    "recency": 39,
    "frequency": 22,
    "monetary": "4154.30",
    "lifecycle_stage": "active",
    "rfm_as_of": "2026-11-20",
}


def test_profile() -> None:
    assert parse_customer_profile(_doc(PROFILE, {})) == Ok(
        CustomerProfile(3, "VIP", 39, 22, Decimal("4154.30"), "active", date(2026, 11, 20))
    )


def test_profile_nullable_rfm_and_number_monetary() -> None:
    result = parse_customer_profile(_doc(PROFILE, {"recency": None, "frequency": None, "monetary": None}))
    assert isinstance(result, Ok) and result.value.recency is None and result.value.monetary is None
    result = parse_customer_profile(_doc(PROFILE, {"monetary": 12.5, "lifecycle_stage": _MISSING}))
    assert isinstance(result, Ok) and result.value.monetary == Decimal("12.5")
    assert result.value.lifecycle_stage is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer_id", 0),
        ("customer_id", True),
        ("customer_id", "3"),
        ("recency", -1),
        ("recency", 1.0),
        ("frequency", -2),
        ("frequency", True),
        ("monetary", "-0.01"),
        ("monetary", "NaN"),
        ("monetary", "lots"),
        ("rfm_as_of", "20261120"),
        ("rfm_as_of", "2026-11-20T00:00:00Z"),
        ("rfm_as_of", "2026-13-01"),
        ("rfm_as_of", 20261120),
        ("rfm_as_of", None),
        ("rfm_as_of", _MISSING),
        ("customer_id", _MISSING),
        ("segment", 7),
    ],
)
def test_bad_profile(field: str, value: object) -> None:
    data = _doc(PROFILE, {field: value})
    result = parse_customer_profile(data)
    assert isinstance(result, Err) and field in result.reason and result.raw == data


# --- decision messages ----------------------------------------------------------------------------------


def test_decision_message() -> None:
    data = orjson.dumps(
        {
            "customer_id": 4,
            "segment": "ACTIVE",
            "recommendation": ["sku:A"],
            "score": 1,
            "updated_at": "2026-11-21T00:02:28.000Z",
            "event_time": 1795219348000,
            "logic_version": "v1",
            "version": 3,
        }
    )
    result = parse_decision_message(data)
    assert isinstance(result, Ok)
    assert result.value.version == 3
    assert result.value.decision == Decision(4, "ACTIVE", ("sku:A",), 1.0, 1795219348000, 1795219348000, "v1")


def test_bad_decision_message() -> None:
    for data in (b"{}", b"[]", b'{"customer_id": 1}'):
        assert isinstance(parse_decision_message(data), Err)


# --- DLQ records ----------------------------------------------------------------------------------------


def test_dlq_utf8_raw_is_text() -> None:
    doc = orjson.loads(dlq_record_to_json("behavior_events", "bad", b'{"x": "\xc3\xa9"}', 0))
    assert doc == {
        "topic": "behavior_events",
        "reason": "bad",
        "raw": '{"x": "é"}',
        "raw_base64": False,
        "raw_truncated": False,
        "raw_length": 11,
        "raw_sha256": hashlib.sha256(b'{"x": "\xc3\xa9"}').hexdigest(),
        "failed_at": "1970-01-01T00:00:00.000Z",
    }


def test_dlq_binary_raw_is_base64_and_round_trips() -> None:
    raw = b"\xff\x00\xfe garbage"
    data = dlq_record_to_json("orders_cdc", "unparseable", raw, 1795219348000)
    doc = orjson.loads(data)
    assert doc["raw_base64"] is True and base64.b64decode(doc["raw"]) == raw
    result = parse_dlq_record(data)
    assert isinstance(result, Ok) and result.value.raw == raw and result.value.failed_at_ms == 1795219348000


def test_dlq_truncates_absurd_raw() -> None:
    raw = b"x" * (MAX_RECORD_BYTES + 10)
    data = dlq_record_to_json("t", "too big", raw, 0)
    result = parse_dlq_record(data)
    assert isinstance(result, Ok) and result.value.raw_truncated and len(result.value.raw) < len(raw)
    assert len(data) < MAX_RECORD_BYTES


def test_dlq_record_bad_base64() -> None:
    data = orjson.dumps(
        {"topic": "t", "reason": "r", "raw": "!!!", "raw_base64": True, "failed_at": "1970-01-01T00:00:00Z"}
    )
    assert isinstance(parse_dlq_record(data), Err)
