"""behavior_events parsing: valid shapes and every class of bad input (DESIGN §3)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from persona.contracts import MAX_RECORD_BYTES, BehaviorEvent, Err, Ok, parse_behavior_event

BASE: dict[str, Any] = {
    "event_id": "e-1",
    "user_id": 42,
    "event_type": "view",
    "sku_id": "SKU-1",
    "event_time": "2026-11-24T04:31:13Z",
    "session_id": "s1",
    "channel": "web",
}
T_MS = 1795494673000  # 2026-11-24T04:31:13Z


def raw(**changes: Any) -> bytes:
    doc = {**BASE, **changes}
    return orjson.dumps({k: v for k, v in doc.items() if v is not _MISSING})


_MISSING = object()


def ok(data: bytes) -> BehaviorEvent:
    result = parse_behavior_event(data)
    assert isinstance(result, Ok), result
    return result.value


def err(data: bytes) -> Err:
    result = parse_behavior_event(data)
    assert isinstance(result, Err), result
    assert result.raw == data  # the original bytes travel to the DLQ untouched
    assert result.reason
    return result


def test_valid_event() -> None:
    assert ok(raw()) == BehaviorEvent("e-1", 42, "view", "SKU-1", T_MS, "s1", "web")


@pytest.mark.parametrize(
    "event_time",
    [
        "2026-11-24T04:31:13Z",
        "2026-11-24T04:31:13.000Z",
        "2026-11-24T04:31:13+00:00",
        "2026-11-24T11:31:13+07:00",  # same instant in another zone
        "2026-11-23T23:31:13-05:00",
        T_MS,
    ],
)
def test_event_time_formats(event_time: object) -> None:
    assert ok(raw(event_time=event_time)).event_time_ms == T_MS


def test_event_time_keeps_milliseconds_and_truncates_micros() -> None:
    assert ok(raw(event_time="2026-11-24T04:31:13.123456Z")).event_time_ms == T_MS + 123


@pytest.mark.parametrize(
    "event_time",
    [
        "2026-11-24T04:31:13",  # naive ISO: zone unknown, rejected rather than assumed UTC
        "2026-11-24",  # a date is naive too
        "yesterday",
        "",
        "1795926673000",  # epoch millis must be a JSON integer, not a string
        1795926673000.0,  # float is not an integer
        1.5,
        True,  # JSON true is not an int
        -1,
        10**16,  # beyond year 9999
        None,
        [],
        {},
        "2026-11-24T04:31:13Z" + " " * 100,  # absurdly long
    ],
)
def test_bad_event_time(event_time: object) -> None:
    assert "event_time" in err(raw(event_time=event_time)).reason


@pytest.mark.parametrize("user_id", [True, False, 1.0, 42.5, 0, -1, "42", "abc", None, 2**63, [42], {}])
def test_bad_user_id(user_id: object) -> None:
    assert "user_id" in err(raw(user_id=user_id)).reason


def test_user_id_upper_bound_is_bigint() -> None:
    assert ok(raw(user_id=2**63 - 1)).user_id == 2**63 - 1


@pytest.mark.parametrize("field", ["event_id", "user_id", "event_type", "event_time"])
def test_missing_required_field(field: str) -> None:
    assert field in err(raw(**{field: _MISSING})).reason


@pytest.mark.parametrize("field", ["event_id", "event_type"])
@pytest.mark.parametrize("value", ["", 1, None, True])
def test_event_id_and_type_must_be_non_empty_strings(field: str, value: object) -> None:
    assert field in err(raw(**{field: value})).reason


def test_optional_fields_may_be_absent_or_null() -> None:
    e = ok(raw(sku_id=_MISSING, session_id=_MISSING, channel=_MISSING))
    assert (e.sku_id, e.session_id, e.channel) == (None, None, None)
    assert ok(raw(sku_id=None, session_id=None, channel=None)).sku_id is None


def test_empty_sku_is_no_sku() -> None:
    assert ok(raw(sku_id="")).sku_id is None


@pytest.mark.parametrize("sku_id", [1, True, ["SKU-1"], {"id": 1}])
def test_sku_id_must_be_string_or_null(sku_id: object) -> None:
    assert "sku_id" in err(raw(sku_id=sku_id)).reason


def test_any_event_type_string_is_accepted() -> None:
    assert ok(raw(event_type="wishlist")).event_type == "wishlist"


def test_unknown_fields_are_ignored() -> None:
    assert ok(raw(extra={"nested": [1, 2, 3]})).event_id == "e-1"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{not json",
        b"null",
        b"[]",
        b'"a string"',
        b"42",
        b"\xff\xfe\x00",
        b'{"event_id": "e-1"} trailing',
        raw()[:-1],  # truncated
    ],
)
def test_unparseable_or_non_object(data: bytes) -> None:
    err(data)


def test_invalid_utf8_inside_a_string() -> None:
    err(raw().replace(b"SKU-1", b"SKU-\xff"))


def test_absurd_sizes() -> None:
    big = raw(channel="x" * (MAX_RECORD_BYTES + 1))
    assert "exceeds" in err(big).reason
    assert "event_id" in err(raw(event_id="e" * 257)).reason
    assert "sku_id" in err(raw(sku_id="S" * 257)).reason
    assert "event_type" in err(raw(event_type="t" * 65)).reason
    ok(raw(event_id="e" * 256))


def test_accepts_bytearray_and_memoryview() -> None:
    assert isinstance(parse_behavior_event(bytearray(raw())), Ok)
    assert isinstance(parse_behavior_event(memoryview(raw())), Ok)
    bad = parse_behavior_event(bytearray(b"{"))
    assert isinstance(bad, Err) and bad.raw == b"{" and type(bad.raw) is bytes


def test_events_of_one_sku_share_one_sku_string() -> None:
    # The enrich flow holds each customer's recent SKUs for its life: one string per SKU, not per event.
    first = ok(raw(event_id="e-1", sku_id="SKU-" + "7" * 6, channel="app"))
    second = ok(raw(event_id="e-2", sku_id="SKU-" + "7" * 6, channel="app"))
    assert first.sku_id == "SKU-777777" and first.sku_id is second.sku_id
    assert first.event_type is second.event_type and first.channel is second.channel
    assert first.event_id is not second.event_id
    assert ok(raw(sku_id="")).sku_id is None and ok(raw(channel="")).channel == ""
