"""confluent-kafka producers/consumers used outside the flows."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition


@dataclass(frozen=True)
class ConsumedRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


def make_producer(bootstrap: str, **overrides: Any) -> Producer:
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "linger.ms": 5,
        "compression.type": "lz4",
        "enable.idempotence": True,
        "queue.buffering.max.messages": 500_000,
    }
    config.update(overrides)
    return Producer(config)


def produce(
    producer: Producer,
    topic: str,
    value: bytes | None,
    key: bytes | None = None,
    *,
    on_delivery: Callable[[KafkaError | None, Any], None] | None = None,
    wait: float = 0.05,
) -> None:
    """Produce one record; while the producer's local queue is full, serve delivery reports (for
    ``wait`` seconds at a time) until there is room, so a fast caller is slowed, never failed."""
    while True:
        try:
            if on_delivery is None:
                producer.produce(topic, value, key)
            else:
                producer.produce(topic, value, key, on_delivery=on_delivery)
            return
        except BufferError:
            producer.poll(wait)


def produce_all(
    producer: Producer,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes]],
    *,
    flush_timeout: float = 60.0,
) -> int:
    """Produce every (key, value); wait until all are acknowledged. Raise on any delivery error."""
    errors: list[str] = []

    def on_delivery(err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    count = 0
    for key, value in records:
        produce(producer, topic, value, key, on_delivery=on_delivery)
        count += 1
        if count % 10_000 == 0:
            producer.poll(0)
    remaining = producer.flush(flush_timeout)
    if remaining:
        raise KafkaException(f"{remaining} records to {topic} not acknowledged in {flush_timeout}s")
    if errors:
        raise KafkaException(f"{len(errors)} records to {topic} failed; first: {errors[0]}")
    return count


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[ConsumedRecord]], bool] | None = None,
    min_count: int | None = None,
    timeout: float = 30.0,
    group_id: str | None = None,
) -> list[ConsumedRecord]:
    """Read ``topic`` from the beginning until ``until(records)`` (or ``min_count``) holds.

    Returns what was read when the deadline passes, so a caller's assertion shows what arrived.
    Without ``until``/``min_count`` it reads until every partition reports its end.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group_id or f"persona-reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    records: list[ConsumedRecord] = []
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = sorted(metadata.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        eof: set[int] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None:
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        eof.add(int(msg.partition() or 0))
                    else:
                        raise KafkaException(error)
                else:
                    records.append(
                        ConsumedRecord(
                            topic=str(msg.topic()),
                            partition=int(msg.partition() or 0),
                            offset=int(msg.offset() or 0),
                            key=msg.key(),
                            value=msg.value(),
                            timestamp_ms=msg.timestamp()[1],
                        )
                    )
            if until is not None:
                if until(records):
                    break
            elif min_count is not None:
                if len(records) >= min_count:
                    break
            elif eof >= set(partitions):
                break
    finally:
        consumer.close()
    return records


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"persona-offsets-{uuid.uuid4().hex}"})
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        result = {}
        for p in sorted(metadata.topics[topic].partitions):
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            result[p] = int(high)
        return result
    finally:
        consumer.close()
