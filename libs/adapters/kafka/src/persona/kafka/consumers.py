"""Consumers for the tools (the demo, the bench, tests): reading a topic, its end offsets, following
its new records, and draining it as fast as a bare consumer can.

The flows read Kafka through ``persona.kafka.bytewax_io`` instead. Every function takes ``config``:
the security settings of a secured cluster (``KafkaSecurity.client_config()``), laid over the
consumer's own properties (:func:`consumer_config`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition


def consumer_config(own: Mapping[str, Any], config: Mapping[str, Any] | None) -> dict[str, Any]:
    """A consumer's librdkafka properties: its ``own`` with the caller's ``config`` over them, so a
    security setting (or the config file's property) wins over a consumer's tuning."""
    return {**own, **(config or {})}


def reader_config(
    bootstrap: str, group_id: str | None = None, config: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """:func:`read_topic`'s consumer: from the beginning, every partition's end reported."""
    own = {
        "bootstrap.servers": bootstrap,
        "group.id": group_id or f"persona-reader-{uuid.uuid4().hex}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    }
    return consumer_config(own, config)


def offsets_config(bootstrap: str, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """:class:`EndOffsets`' consumer: it only asks for watermarks."""
    return consumer_config(
        {"bootstrap.servers": bootstrap, "group.id": f"persona-offsets-{uuid.uuid4().hex}"}, config
    )


def tail_config(bootstrap: str, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """:func:`tail_values`' consumer: a new group, so it starts at the end."""
    own = {
        "bootstrap.servers": bootstrap,
        "group.id": f"persona-tail-{uuid.uuid4().hex[:8]}",
        # A new group starts at the end: only records produced after the call.
        "auto.offset.reset": "latest",
        "enable.auto.commit": False,
    }
    return consumer_config(own, config)


def drain_config(bootstrap: str, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """:func:`drain`'s consumer: large fetches, nothing committed."""
    own = {
        "bootstrap.servers": bootstrap,
        "group.id": f"persona-drain-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "fetch.max.bytes": 64 * 2**20,
        "max.partition.fetch.bytes": 16 * 2**20,
    }
    return consumer_config(own, config)


@dataclass(frozen=True)
class ConsumedRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[ConsumedRecord]], bool] | None = None,
    min_count: int | None = None,
    timeout: float = 30.0,
    group_id: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> list[ConsumedRecord]:
    """Read ``topic`` from the beginning until ``until(records)`` (or ``min_count``) holds.

    Returns what was read when the deadline passes, so a caller's assertion shows what arrived.
    Without ``until``/``min_count`` it reads until every partition reports its end.
    """
    consumer = Consumer(reader_config(bootstrap, group_id, config))
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


class EndOffsets:
    """End offsets (the offset the next record will get) of topics, per partition, through one
    consumer kept open: cheap enough to ask every second. Partition lists are fetched once per topic."""

    def __init__(self, bootstrap: str, config: Mapping[str, Any] | None = None) -> None:
        self._consumer = Consumer(offsets_config(bootstrap, config))
        self._partitions: dict[str, list[int]] = {}

    def end(self, topic: str) -> dict[int, int]:
        if topic not in self._partitions:
            metadata = self._consumer.list_topics(topic, timeout=10)
            self._partitions[topic] = sorted(metadata.topics[topic].partitions)
        return {
            p: int(
                self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
            )
            for p in self._partitions[topic]
        }

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> EndOffsets:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def end_offsets(bootstrap: str, topic: str, config: Mapping[str, Any] | None = None) -> dict[int, int]:
    """The end offset of each partition of ``topic``."""
    with EndOffsets(bootstrap, config) as offsets:
        return offsets.end(topic)


def tail_values(
    bootstrap: str,
    topic: str,
    should_stop: Callable[[], bool],
    *,
    max_records: int = 1000,
    wait: float = 0.2,
    config: Mapping[str, Any] | None = None,
) -> Iterator[list[bytes | None]]:
    """The values of the records ``topic`` receives from now on, a poll's worth (at most
    ``max_records``, waiting up to ``wait`` seconds) at a time, until ``should_stop()``.

    Records that cannot be read are skipped: a watcher reports what it sees, it does not fail.
    """
    consumer = Consumer(tail_config(bootstrap, config))
    consumer.subscribe([topic])
    try:
        while not should_stop():
            values = [m.value() for m in consumer.consume(max_records, wait) if m.error() is None]
            if values:
                yield values
    finally:
        consumer.close()


class DrainedBatch:
    """The records of one consume call of :func:`drain`, read only when asked for, so that merely
    counting them costs nothing per record."""

    __slots__ = ("_messages",)

    def __init__(self, messages: list[Any]) -> None:
        self._messages = messages

    def __len__(self) -> int:
        return len(self._messages)

    def values_and_timestamps(self) -> Iterator[tuple[bytes | None, int]]:
        """``(value, timestamp_ms)`` of each record: the broker's time of arrival on a topic with
        ``message.timestamp.type=LogAppendTime``, else the producer's."""
        for message in self._messages:
            yield message.value(), message.timestamp()[1]


def drain(
    bootstrap: str,
    topics: Iterable[str],
    *,
    idle_timeout: float = 30.0,
    config: Mapping[str, Any] | None = None,
) -> Iterator[DrainedBatch]:
    """Every record of ``topics``, from the beginning up to their end offsets at the call, in batches
    as large as one consume returns; stops early when nothing arrives for ``idle_timeout`` seconds.

    Nothing is done per record but tracking the end: this is also how fast a bare consumer reads.
    """
    consumer = Consumer(drain_config(bootstrap, config))
    try:
        remaining: dict[tuple[str, int], int] = {}
        assignment = []
        for topic in topics:
            metadata = consumer.list_topics(topic, timeout=10)
            for p in sorted(metadata.topics[topic].partitions):
                _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                if high > 0:
                    remaining[(topic, p)] = int(high)
                    assignment.append(TopicPartition(topic, p, 0))
        consumer.assign(assignment)
        idle_deadline = time.monotonic() + idle_timeout
        while remaining and time.monotonic() < idle_deadline:
            batch = consumer.consume(10_000, 1.0)
            if not batch:
                continue
            idle_deadline = time.monotonic() + idle_timeout
            good = [m for m in batch if m.error() is None]
            for m in good:
                key = (str(m.topic()), int(m.partition() or 0))
                end = remaining.get(key)
                if end is not None and int(m.offset() or 0) >= end - 1:
                    del remaining[key]
            yield DrainedBatch(good)
    finally:
        consumer.close()
