"""Dead letters always fit a topic with Kafka's default size limit, and only errors that reject a
record for itself make one."""

from __future__ import annotations

import os

import orjson
import pytest
from confluent_kafka import KafkaError
from hypothesis import given, settings
from hypothesis import strategies as st

from persona.contracts import DLQ_MAX_REASON_CHARS, Ok, parse_dlq_record
from persona.kafka.dead_letters import (
    DEAD_LETTER_MAX_BYTES,
    KEY_MAX_BYTES,
    dead_letter,
    is_dead_letter_topic,
    is_unwritable,
    unwritable_reason,
)

NOW_MS = 1_795_000_000_000


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b'{"event_id": "e-1"}',
        os.urandom(2 * 1024 * 1024),  # binary: base64 in the dead letter
        b"\x01" * (2 * 1024 * 1024),  # valid UTF-8 control bytes: each escaped to six characters
        ("é" * 700_000).encode(),
    ],
    ids=["empty", "json", "binary-2MB", "control-2MB", "utf8-1.4MB"],
)
def test_a_dead_letter_fits_whatever_the_record(raw: bytes) -> None:
    topic, key, value = dead_letter("behavior_events", b"k", raw, "not json", NOW_MS)
    assert topic == "behavior_events.dlq" and key == b"k"
    assert value is not None and len(value) <= DEAD_LETTER_MAX_BYTES
    record = orjson.loads(value)
    assert record["topic"] == "behavior_events" and record["reason"] == "not json"
    # Records whose base64 fits are kept whole; larger ones are cut and flagged (the next test).
    assert record["raw_truncated"] is (len(raw) * 4 // 3 > DEAD_LETTER_MAX_BYTES)
    assert record["raw_length"] == len(raw)
    if len(raw) < 1000:
        assert record["raw"] == raw.decode()


def test_a_cut_dead_letter_says_so_and_keeps_a_prefix_of_the_record() -> None:
    raw = b"\x01" * (2 * 1024 * 1024)
    _topic, _key, value = dead_letter("orders_cdc", None, raw, "too large", NOW_MS)
    parsed = parse_dlq_record(value or b"")
    assert isinstance(parsed, Ok) and parsed.value.raw_truncated is True
    kept = parsed.value.raw
    assert 0 < len(kept) < len(raw) and raw.startswith(kept)


@settings(max_examples=25, deadline=None)
@given(raw=st.binary(max_size=64 * 1024), reason=st.text(max_size=5000), key=st.binary(max_size=10_000))
def test_any_record_reason_and_key_make_a_bounded_dead_letter(raw: bytes, reason: str, key: bytes) -> None:
    topic, dlq_key, value = dead_letter("segment_decisions", key, raw, reason, NOW_MS)
    assert topic == "segment_decisions.dlq" and value is not None
    assert len(value) <= DEAD_LETTER_MAX_BYTES
    assert dlq_key == (key if len(key) <= KEY_MAX_BYTES else None)
    kept = orjson.loads(value)["reason"]
    assert len(kept) <= DLQ_MAX_REASON_CHARS + len("...(cut)")
    if len(reason) <= DLQ_MAX_REASON_CHARS and reason.encode("utf-8", "surrogatepass") == reason.encode(
        "utf-8", "ignore"
    ):
        assert kept == reason


@pytest.mark.parametrize(
    "code",
    [
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_MSG,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_RECORD,
        KafkaError.INVALID_TIMESTAMP,
    ],
)
def test_errors_that_reject_the_record_itself_are_unwritable(code: int) -> None:
    error = KafkaError(code)
    assert is_unwritable(error)
    assert unwritable_reason(error).startswith(f"unwritable: {error.name()}: ")


@pytest.mark.parametrize(
    "code",
    [
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.NOT_ENOUGH_REPLICAS,
    ],
)
def test_transport_and_configuration_errors_are_not_the_record_s_fault(code: int) -> None:
    assert not is_unwritable(KafkaError(code))


def test_a_fatal_or_retriable_error_is_never_unwritable_whatever_its_code() -> None:
    assert not is_unwritable(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE, fatal=True))
    assert not is_unwritable(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE, retriable=True))


def test_dead_letter_topics_are_recognized_by_their_suffix() -> None:
    assert is_dead_letter_topic("e2e_x_behavior_events.dlq")
    assert not is_dead_letter_topic("behavior_events")
    assert not is_dead_letter_topic("dlq_topic")
