"""Bounded dead letters (issue 17): every parser's Err, for hostile bytes up to ~2 MB, becomes a DLQ
record under the limit that round-trips (hash and length of the original)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from persona.contracts import (
    DEFAULT_TIME_WINDOW,
    DLQ_MAX_BYTES,
    DLQ_MAX_REASON_CHARS,
    Err,
    Ok,
    dlq_record_to_json,
    parse_behavior_event,
    parse_customer_profile,
    parse_decision_message,
    parse_dlq_record,
    parse_inventory_row,
    parse_order_changes,
    time_to_ms,
)

NOW = time_to_ms("2026-11-28T12:00:00Z")
_settings = settings(database=None, deadline=None, max_examples=60)

PARSERS: tuple[Callable[[bytes], Any], ...] = (
    lambda raw: parse_behavior_event(raw, DEFAULT_TIME_WINDOW, NOW),
    lambda raw: parse_order_changes(raw, DEFAULT_TIME_WINDOW, NOW),
    lambda raw: parse_inventory_row(raw, DEFAULT_TIME_WINDOW, NOW),
    parse_customer_profile,
    parse_decision_message,
    parse_dlq_record,
)


def check_dead_letter(raw: bytes, reason: str, limit: int = DLQ_MAX_BYTES) -> dict[str, Any]:
    data = dlq_record_to_json("behavior_events", reason, raw, NOW, limit)
    assert len(data) <= limit
    parsed = parse_dlq_record(data)
    assert isinstance(parsed, Ok), parsed
    record = parsed.value
    assert record.raw_length == len(raw)
    assert record.raw_sha256 == hashlib.sha256(raw).hexdigest()
    if record.raw_truncated:
        assert len(record.raw) < len(raw) and raw.startswith(record.raw)
    else:
        assert record.raw == raw
    doc: dict[str, Any] = orjson.loads(data)
    return doc


def test_200kb_of_control_bytes_fits_whole_as_base64() -> None:
    # As text every byte would escape to \u00XX: 1.2 MB, over Kafka's default 1 MiB message limit.
    raw = b'{"event_id": "' + b"\x01\x1f" * 100_000 + b'"}'
    doc = check_dead_letter(raw, "behavior_event: bad")
    assert doc["raw_base64"] is True and doc["raw_truncated"] is False


def test_2mb_record_is_truncated_with_its_length_and_hash() -> None:
    raw = b"\x00\xff" * 1_000_000
    doc = check_dead_letter(raw, "behavior_event: record of 2000000 bytes exceeds 1048576")
    assert doc["raw_truncated"] is True and doc["raw_length"] == 2_000_000


def test_readable_utf8_stays_text_and_a_huge_reason_is_cut() -> None:
    doc = check_dead_letter('{"x": "é"}'.encode(), "r" * 100_000)
    assert doc["raw"] == '{"x": "é"}' and doc["raw_base64"] is False
    assert len(doc["reason"]) <= DLQ_MAX_REASON_CHARS + 10 and doc["reason"].endswith("(cut)")


def test_a_smaller_limit_is_kept_too() -> None:
    check_dead_letter(b"\x07" * 100_000, "bad", limit=20_000)
    with pytest.raises(ValueError, match="max_bytes"):
        dlq_record_to_json("t", "r", b"", 0, 100)


def test_records_written_before_the_hash_still_parse() -> None:
    old = orjson.dumps(
        {
            "topic": "t",
            "reason": "r",
            "raw": "abc",
            "raw_base64": False,
            "raw_truncated": False,
            "failed_at": 0,
        }
    )
    result = parse_dlq_record(old)
    assert isinstance(result, Ok) and result.value.raw == b"abc" and result.value.raw_sha256 is None


def test_a_raw_that_does_not_match_its_hash_is_an_error() -> None:
    doc = orjson.loads(dlq_record_to_json("t", "r", b"abc", NOW))
    doc["raw"] = "abd"
    assert isinstance(parse_dlq_record(orjson.dumps(doc)), Err)


# --- hostile bytes up to ~2 MB, built cheaply from repeated blocks ------------------------------------


def _event_around(payload: bytes) -> bytes:
    return (
        b'{"event_id": "' + payload + b'", "user_id": 1, "event_type": "view", "event_time": 1795494673000}'
    )


@st.composite
def hostile_bytes(draw: st.DrawFn) -> bytes:
    block = draw(
        st.one_of(
            st.binary(min_size=1, max_size=64),  # random bytes
            st.sampled_from(
                [b"\x00", b"\x01\x1f", b"\x7f", b"\\u0001", b'\\"', b"\xff\xfe", b"\xed\xa0\x80"]
            ),
            st.text(min_size=1, max_size=16).map(str.encode),
        )
    )
    # Sizes around the limits (Kafka's 1 MiB, the parsers' MAX_RECORD_BYTES) are drawn on purpose:
    # left alone, hypothesis favours small integers.
    size = draw(st.sampled_from([200, 200_000, 1_000_000, 1_048_577, 2_000_000]) | st.integers(1, 2_100_000))
    payload = block * max(1, size // len(block))
    shape = draw(st.sampled_from(["bare", "in_event", "nested", "truncated_json"]))
    if shape == "in_event":
        return _event_around(payload)
    if shape == "nested":
        depth = draw(st.integers(min_value=1, max_value=200_000))
        return b"[" * depth + payload[:1000] + b"]" * depth
    if shape == "truncated_json":
        whole = _event_around(payload)
        return whole[: len(whole) * draw(st.integers(min_value=0, max_value=100)) // 100]
    return payload


@_settings
@given(hostile_bytes())
def test_parsers_never_raise_and_every_dead_letter_is_bounded(raw: bytes) -> None:
    for parse in PARSERS:
        result = parse(raw)  # Ok or Err, never an exception
        assert isinstance(result, Ok | Err)
        if isinstance(result, Err):
            assert result.raw == raw
            check_dead_letter(result.raw, result.reason)


@pytest.mark.parametrize(
    "raw",
    [
        _event_around(b"\x01" * 200_000),  # ~200 KB of raw control bytes: invalid JSON
        _event_around(b"\\u0001" * 150_000),  # ~900 KB of valid escapes: a too-long event_id
        _event_around(b"\xff\xfe" * 100_000),  # invalid UTF-8 inside a string
        b"[" * 1_000_000,  # nesting deeper than any decoder's recursion
        bytes(range(256)) * 8_000,  # ~2 MB of every byte value
    ],
    ids=["control-200k", "escapes-900k", "invalid-utf8", "deep-nesting", "random-2mb"],
)
def test_large_hostile_records_are_rejected_with_bounded_dead_letters(raw: bytes) -> None:
    for parse in PARSERS:
        result = parse(raw)
        assert isinstance(result, Err), result
        check_dead_letter(result.raw, result.reason)


@_settings
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_small_hostile_bytes_round_trip_whole(raw: bytes) -> None:
    assert check_dead_letter(raw, "bad")["raw_truncated"] is False
