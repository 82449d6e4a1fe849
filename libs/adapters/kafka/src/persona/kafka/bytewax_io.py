"""Kafka wiring shared by the flows, at batch granularity: one dataflow item per consumed batch, one per
produced batch.

Bytewax's own ``KafkaSource`` emits a ``KafkaSourceMessage`` dataclass per record and its
``KafkaSink`` flushes the producer after every batch; under load, per-record items (and the operator
hops each one takes) cost more than the records' own processing. Here:

* ``RawKafkaSource`` has the same partitions (``"<partition>-<topic>"``) and the same recovery state
  (the next offset) as Bytewax's source, so recovery stores and the tools reading them are unchanged,
  but ``next_batch`` returns one ``RawBatch`` holding the ``(key, value)`` pairs of one poll.
* ``KafkaBatchSink`` takes items whose value is a list of ``(topic, key, value)`` records, hands them
  to one producer without waiting, and flushes at the end of each epoch (its ``snapshot``): Bytewax
  commits an epoch only after every sink partition has snapshotted, so every record of an epoch is
  acknowledged by Kafka before the epoch's input offsets become durable (at-least-once).
  A delivery failure fails the flow at that flush instead of losing records silently.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from persona.contracts import Topics, dlq_record_to_json
from persona.kafka.admin import KafkaAdmin
from persona.kafka.producers import produce

OutRecord = tuple[str, bytes | None, bytes | None]
"""A record to produce: (topic, key, value)."""


@dataclass(frozen=True, slots=True)
class RawBatch:
    """The records of one poll of one topic partition, in offset order: ``keys[i]``, ``values[i]``.

    Two lists, not a ``(key, value)`` tuple per record: every tuple is tracked by the cyclic GC, and
    all of a full poll's were alive through the whole batch, walked by each young collection that the
    batch's own allocations triggered.
    """

    topic: str
    partition: int
    keys: list[bytes | None]
    values: list[bytes | None]

    @property
    def records(self) -> Iterator[tuple[bytes | None, bytes | None]]:
        """``(key, value)`` pairs; ``zip`` reuses one tuple when the loop unpacks it."""
        return zip(self.keys, self.values, strict=True)

    def __len__(self) -> int:
        return len(self.values)


# After a poll that did not fill a batch, wait this long before polling that partition again: records
# accumulate in the consumer's prefetch queue meanwhile, so a flow moves fewer, larger items (each
# item costs a pass through every operator, whatever its size) and an idle flow does not spin. It
# bounds the added latency per hop; a full batch is followed by the next poll at once.
POLL_INTERVAL = timedelta(milliseconds=5)


class _RawPartition(StatefulSourcePartition[RawBatch, int]):
    def __init__(
        self, config: dict[str, Any], topic: str, partition: int, offset: int, batch_size: int
    ) -> None:
        self._consumer = Consumer(config)
        self._consumer.assign([TopicPartition(topic, partition, offset)])
        self._topic = topic
        self._partition = partition
        self._offset = offset
        self._batch_size = batch_size
        self._awake: datetime | None = None

    def next_batch(self) -> list[RawBatch]:
        # Never block: the flow's one thread serves every partition, and a wait here (librdkafka waits
        # the whole timeout whenever fewer than batch_size records are queued) stalls all of them.
        # POLL_INTERVAL keeps an idle partition from spinning instead.
        messages = self._consumer.consume(self._batch_size, 0)
        self._awake = None if len(messages) >= self._batch_size else datetime.now(UTC) + POLL_INTERVAL
        if not messages:
            return []
        if any(m.error() is not None for m in messages):
            for m in messages:
                error = m.error()
                if error is not None and error.code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(f"error consuming {self._topic}[{self._partition}]: {error}")
            messages = [m for m in messages if m.error() is None]
        if not messages:
            return []
        # Resume after the last record handed on.
        self._offset = (messages[-1].offset() or 0) + 1
        keys = [m.key() for m in messages]
        return [RawBatch(self._topic, self._partition, keys, [m.value() for m in messages])]

    def next_awake(self) -> datetime | None:
        return self._awake

    def snapshot(self) -> int:
        return self._offset

    def close(self) -> None:
        self._consumer.close()


class RawKafkaSource(FixedPartitionedSource[RawBatch, int]):
    """Every partition of ``topics``, read from the beginning (or the recovered offset), tailing."""

    def __init__(
        self,
        brokers: str,
        topics: Iterable[str],
        *,
        group_id: str,
        batch_size: int = 1000,
        add_config: dict[str, Any] | None = None,
    ) -> None:
        self._brokers = brokers
        self._topics = list(topics)
        self._batch_size = batch_size
        # The admin client that lists the partitions connects with the same security settings.
        self._add_config: dict[str, Any] = dict(add_config or {})
        self._config: dict[str, Any] = {
            "bootstrap.servers": brokers,
            # Offsets are kept by Bytewax recovery; the group id only names the flow for operators.
            "group.id": group_id,
            "client.id": f"{group_id}-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            # A fetch waits for 64 KB or 50 ms: with the default (1 byte) every one of the flows'
            # consumers fetches as soon as anything arrives, and the broker and the flows spend a
            # noticeable share of a core on small fetches under load. It adds at most 50 ms per hop.
            "fetch.wait.max.ms": 50,
            "fetch.min.bytes": 64 * 1024,
            # One consumer per topic partition (a dozen in the enrich flow): librdkafka's default
            # prefetch of 64 MB each lets a lagging flow's memory grow by most of a GiB. 16 MB still
            # holds several full batches per partition.
            "queued.max.messages.kbytes": 16 * 1024,
            **(add_config or {}),
        }

    def list_parts(self) -> list[str]:
        admin = KafkaAdmin(self._brokers, **self._add_config)
        return [f"{p}-{topic}" for topic in self._topics for p in admin.partitions(topic, timeout=30)]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _RawPartition:
        index, topic = for_part.split("-", 1)
        if topic not in self._topics:
            raise RuntimeError(f"recovered input partition {for_part!r} is not among {self._topics}")
        offset = OFFSET_BEGINNING if resume_state is None else resume_state
        return _RawPartition(dict(self._config), topic, int(index), offset, self._batch_size)


class _ProducerPartition(StatefulSinkPartition[list[OutRecord], None]):
    def __init__(self, config: dict[str, Any]) -> None:
        self._failures: list[str] = []
        self._lock = threading.Lock()
        self._producer = Producer({**config, "on_delivery": self._on_delivery})

    def _on_delivery(self, error: Any, message: Any) -> None:
        # With delivery.report.only.error this runs for failed records only.
        if error is not None:
            with self._lock:
                self._failures.append(f"{message.topic()}: {error}")

    def write_batch(self, values: list[list[OutRecord]]) -> None:
        producer = self._producer
        for batch in values:
            for topic, key, value in batch:
                produce(producer, topic, value, key)
        producer.poll(0)

    def snapshot(self) -> None:
        self._flush()

    def _flush(self) -> None:
        remaining = self._producer.flush(60)
        if remaining:
            raise RuntimeError(f"{remaining} records not acknowledged by Kafka within 60 s")
        with self._lock:
            failures, self._failures = self._failures, []
        if failures:
            raise RuntimeError(f"{len(failures)} records could not be produced; first: {failures[0]}")

    def close(self) -> None:
        self._flush()


class KafkaBatchSink(FixedPartitionedSink[list[OutRecord], None]):
    """One partition (``"kafka"``) with one idempotent producer; items are ``(key, records)``."""

    def __init__(self, brokers: str, *, add_config: dict[str, Any] | None = None) -> None:
        self._config: dict[str, Any] = {
            "bootstrap.servers": brokers,
            # Fewer, larger produce requests than the tools' producers (5 ms): less broker and
            # client CPU for at most 20 ms more per hop.
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "compression.type": "lz4",
            "enable.idempotence": True,
            "delivery.report.only.error": True,
            **(add_config or {}),
        }

    def list_parts(self) -> list[str]:
        return ["kafka"]

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _ProducerPartition:
        return _ProducerPartition(self._config)


def dead_letter(
    source_topic: str, key: bytes | None, raw: bytes | None, reason: str, now_ms: int | None = None
) -> OutRecord:
    """The DLQ record of a record that could not be used: its reason and original bytes."""
    failed_at = int(time.time() * 1000) if now_ms is None else now_ms
    return (Topics.dlq(source_topic), key, dlq_record_to_json(source_topic, reason, raw or b"", failed_at))
