"""The flows' Kafka I/O on the real broker when Kafka cannot take or give a record as asked: a record
rejected for itself becomes a dead letter and the flow goes on; a resume offset out of range follows
PERSONA_OFFSET_RESET, never `latest`."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator

import bytewax.operators as op
import orjson
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource, run_main
from confluent_kafka import Producer

from persona.contracts import Topics
from persona.kafka import ConsumedRecord, KafkaAdmin, read_topic
from persona.kafka.bytewax_io import (
    KafkaBatchSink,
    OffsetOutOfRangeError,
    OutRecord,
    RawKafkaSource,
    UnwritableDeadLetterError,
)
from persona.localstack import StackSettings

pytestmark = pytest.mark.integration

# The topic's limit: a few hundred small records fit in a batch, one 3 KB record does not.
SMALL_LIMIT = {"max.message.bytes": "2000"}


@pytest.fixture
def admin(stack: StackSettings) -> KafkaAdmin:
    return KafkaAdmin(stack.kafka_bootstrap)


@pytest.fixture
def topic(admin: KafkaAdmin, unique_name: Callable[[str], str]) -> Iterator[str]:
    name = unique_name("sink_faults")
    yield name
    admin.delete_topics([name, Topics.dlq(name)], missing_ok=True)


def _run_sink(bootstrap: str, batches: list[list[OutRecord]]) -> None:
    flow = Dataflow("kafka_sink_faults")
    items = op.input("in", flow, TestingSource([("k", batch) for batch in batches]))
    op.output("out", items, KafkaBatchSink(bootstrap))
    run_main(flow)


def _keys(records: list[ConsumedRecord]) -> list[bytes]:
    return sorted(r.key or b"" for r in records)


def test_records_kafka_rejects_become_dead_letters_and_the_good_ones_arrive(
    stack: StackSettings, admin: KafkaAdmin, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    admin.create_topic(topic, 1, SMALL_LIMIT)
    admin.create_topic(Topics.dlq(topic), 1)
    good: list[OutRecord] = [(topic, f"good-{i:02d}".encode(), b"g" * 100) for i in range(20)]
    # Over the topic's limit, under the producer's: the broker rejects the whole batch it is in.
    over_topic_limit: OutRecord = (topic, b"over-topic-limit", os.urandom(3000))
    # Over the producer's own limit (1,000,000 bytes): refused before it is sent.
    over_producer_limit: OutRecord = (topic, b"over-producer-limit", b"x" * 1_200_000)
    batches = [[*good[:5], over_topic_limit, *good[5:10]], [over_producer_limit, *good[10:]]]

    with caplog.at_level(logging.WARNING, logger="persona.kafka"):
        _run_sink(stack.kafka_bootstrap, batches)  # returns: the flow did not die

    arrived = read_topic(stack.kafka_bootstrap, topic, min_count=len(good), timeout=30)
    assert _keys(arrived) == sorted(key or b"" for _t, key, _v in good)
    dead = read_topic(stack.kafka_bootstrap, Topics.dlq(topic), min_count=2, timeout=30)
    assert _keys(dead) == [b"over-producer-limit", b"over-topic-limit"]
    letters = {r.key: orjson.loads(r.value or b"") for r in dead}
    for letter in letters.values():
        assert letter["topic"] == topic
        assert letter["reason"].startswith("unwritable: MSG_SIZE_TOO_LARGE: ")
    assert letters[b"over-producer-limit"]["raw_truncated"] is True
    assert (
        letters[b"over-topic-limit"]["raw_base64"] is True
        and letters[b"over-topic-limit"]["raw_truncated"] is False
    )
    warnings = [r.getMessage() for r in caplog.records if "dead-lettered" in r.getMessage()]
    assert len(warnings) == 2 and "dead_letters=2" in warnings[-1]


def test_a_dead_letter_that_cannot_be_written_fails_the_flow_loudly(
    stack: StackSettings, admin: KafkaAdmin, topic: str
) -> None:
    # A dead-letter topic too small for dead letters is a configuration error, not a record's.
    admin.create_topic(topic, 1, SMALL_LIMIT)
    admin.create_topic(Topics.dlq(topic), 1, SMALL_LIMIT)
    with pytest.raises(Exception) as failed:  # Bytewax wraps the sink's error
        _run_sink(stack.kafka_bootstrap, [[(topic, b"big", os.urandom(3000))]])
    cause = _root_cause(failed.value)
    assert isinstance(cause, UnwritableDeadLetterError)
    assert f"a dead letter to {Topics.dlq(topic)}" in str(cause) and "max.message.bytes" in str(cause)
    assert read_topic(stack.kafka_bootstrap, Topics.dlq(topic), timeout=10) == []


def _root_cause(error: BaseException) -> BaseException:
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return error


def _fill(bootstrap: str, topic: str, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(count):
        producer.produce(topic, value=f"v{i}".encode())
    assert producer.flush(30) == 0


def _read_all(partition: object, count: int, timeout: float = 30) -> list[bytes | None]:
    from persona.kafka.bytewax_io import RawBatch

    values: list[bytes | None] = []
    deadline = time.monotonic() + timeout
    while len(values) < count and time.monotonic() < deadline:
        batches: list[RawBatch] = partition.next_batch()  # type: ignore[attr-defined]
        for batch in batches:
            values.extend(batch.values)
        if not batches:
            time.sleep(0.02)  # poll interval: next_batch never blocks
    return values


def test_an_out_of_range_resume_offset_rereads_the_partition_with_a_warning(
    stack: StackSettings, admin: KafkaAdmin, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    admin.create_topic(topic, 1)
    _fill(stack.kafka_bootstrap, topic, 3)
    source = RawKafkaSource(stack.kafka_bootstrap, [topic], group_id=topic, offset_reset="earliest")
    (part,) = source.list_parts()
    # A recovery store from before the topic was recreated: its offset is past the end of the log.
    partition = source.build_part("in", part, 1_000)
    try:
        with caplog.at_level(logging.WARNING, logger="persona.kafka"):
            values = _read_all(partition, 3)
        assert values == [b"v0", b"v1", b"v2"], "read from the beginning, nothing skipped"
        assert partition.snapshot() == 3
    finally:
        partition.close()
    (warning,) = [r.getMessage() for r in caplog.records if "out of range" in r.getMessage()]
    assert f"topic={topic}" in warning and "partition=0" in warning and "offset=1000" in warning
    assert "log=[0,3)" in warning


def test_an_out_of_range_resume_offset_stops_the_flow_under_the_fail_policy(
    stack: StackSettings, admin: KafkaAdmin, topic: str
) -> None:
    admin.create_topic(topic, 1)
    _fill(stack.kafka_bootstrap, topic, 3)
    source = RawKafkaSource(stack.kafka_bootstrap, [topic], group_id=topic, offset_reset="fail")
    (part,) = source.list_parts()
    partition = source.build_part("in", part, 1_000)
    try:
        with pytest.raises(OffsetOutOfRangeError, match=rf"resume offset 1000 of {topic}\[0\] is out of"):
            _read_all(partition, 1)
        assert partition.snapshot() == 1_000, "the stored offset is kept for the operator"
    finally:
        partition.close()
