"""Kafka wiring shared by the flows, at batch granularity: one dataflow item per consumed batch, one per
produced batch.

Bytewax's own ``KafkaSource`` emits a ``KafkaSourceMessage`` dataclass per record and its
``KafkaSink`` flushes the producer after every batch; under load, per-record items (and the operator
hops each one takes) cost more than the records' own processing. Here:

* ``RawKafkaSource`` has the same partitions (``"<partition>-<topic>"``) and the same recovery state
  (the next offset) as Bytewax's source, so recovery stores and the tools reading them are unchanged,
  but ``next_batch`` returns one ``RawBatch`` holding the ``(key, value)`` pairs of one poll.
  A resume offset out of the partition's log (retention deleted unread records, the topic was
  recreated) is never moved silently to the end: the ``offset_reset`` policy reads the partition from
  its beginning with a warning (``earliest``; decisions are idempotent, so reprocessing is safe) or
  fails (``fail``).
* ``KafkaBatchSink`` takes items whose value is a list of ``(topic, key, value)`` records, hands them
  to one producer without waiting, and flushes at the end of each epoch (its ``snapshot``): Bytewax
  commits an epoch only after every sink partition has snapshotted, so every record of an epoch is
  acknowledged by Kafka before the epoch's input offsets become durable (at-least-once).
  A record Kafka rejects for itself (too large, invalid: ``dead_letters.UNWRITABLE_CODES``) is
  replaced by its dead letter on ``<topic>.dlq``, so one record cannot stop a flow; any other
  delivery failure (broker down, timeout) fails the flow at that flush instead of losing records, and
  a restart resends the epoch. The broker rejects a whole batch for one record in it, so rejected
  records are written again one at a time first, in their order (so a record of that batch may land
  after later records of its partition, as with any retried produce).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition

from persona.kafka.admin import KafkaAdmin
from persona.kafka.dead_letters import (
    DEAD_LETTER_MAX_BYTES,
    OutRecord,
    dead_letter,
    is_dead_letter_topic,
    is_unwritable,
    unwritable_reason,
)
from persona.kafka.producers import produce

__all__ = [
    "OFFSET_RESET_POLICIES",
    "KafkaBatchSink",
    "KafkaDeliveryError",
    "OffsetOutOfRangeError",
    "OutRecord",
    "RawBatch",
    "RawKafkaSource",
    "UnwritableDeadLetterError",
    "dead_letter",
]

log = logging.getLogger(__name__)

RESET_EARLIEST = "earliest"
RESET_FAIL = "fail"
OFFSET_RESET_POLICIES = (RESET_EARLIEST, RESET_FAIL)
"""What a source partition does when its resume offset is out of range (``PERSONA_OFFSET_RESET``)."""


class OffsetOutOfRangeError(RuntimeError):
    """A resume offset is not in its partition's log and the policy is ``fail``."""


# How long an epoch's end waits for Kafka to acknowledge its records before failing the flow.
FLUSH_TIMEOUT = 60.0


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
# Polls that found nothing in a row double the wait up to this: a flow's dozen-odd partitions polled
# every 5 ms cost an idle enrich process a noticeable share of a core (BENCHMARKS, "Idle polling").
# A record on a partition idle for a while waits at most this long more; one found resets the wait.
IDLE_POLL_INTERVAL = timedelta(milliseconds=50)


def next_poll_delay(received: int, batch_size: int, empty_polls: int) -> timedelta | None:
    """How long a partition waits before its next poll, after one that got ``received`` records:
    none after a full batch (more is queued), ``POLL_INTERVAL`` after a partial one, and after
    ``empty_polls`` empty polls in a row (this one included), ``POLL_INTERVAL`` doubled for each
    one after the first, up to ``IDLE_POLL_INTERVAL``."""
    if received >= batch_size:
        return None
    if received or empty_polls <= 1:
        return POLL_INTERVAL
    # The shift is bounded: 2**5 × 5 ms is already past the idle interval.
    return min(POLL_INTERVAL * (1 << min(empty_polls - 1, 5)), IDLE_POLL_INTERVAL)


class _RawPartition(StatefulSourcePartition[RawBatch, int]):
    def __init__(
        self,
        config: dict[str, Any],
        topic: str,
        partition: int,
        offset: int,
        batch_size: int,
        offset_reset: str = RESET_EARLIEST,
    ) -> None:
        self._consumer = Consumer(config)
        self._consumer.assign([TopicPartition(topic, partition, offset)])
        self._topic = topic
        self._partition = partition
        self._offset = offset
        self._batch_size = batch_size
        self._offset_reset = offset_reset
        self._awake: datetime | None = None
        self._empty_polls = 0

    def next_batch(self) -> list[RawBatch]:
        # Never block: the flow's one thread serves every partition, and a wait here (librdkafka waits
        # the whole timeout whenever fewer than batch_size records are queued) stalls all of them.
        # next_awake keeps an idle partition from spinning instead.
        messages = self._consumer.consume(self._batch_size, 0)
        self._empty_polls = 0 if messages else self._empty_polls + 1
        delay = next_poll_delay(len(messages), self._batch_size, self._empty_polls)
        self._awake = None if delay is None else datetime.now(UTC) + delay
        if not messages:
            return []
        if any(m.error() is not None for m in messages):
            for m in messages:
                error = m.error()
                if error is None or error.code() == KafkaError._PARTITION_EOF:
                    continue
                if error.code() == KafkaError._AUTO_OFFSET_RESET:
                    # Nothing was read after the error: the partition starts over from its reset.
                    self._reset_out_of_range(error)
                    return []
                raise RuntimeError(f"error consuming {self._topic}[{self._partition}]: {error}")
            messages = [m for m in messages if m.error() is None]
        if not messages:
            return []
        # Resume after the last record handed on.
        self._offset = (messages[-1].offset() or 0) + 1
        keys = [m.key() for m in messages]
        return [RawBatch(self._topic, self._partition, keys, [m.value() for m in messages])]

    def _reset_out_of_range(self, error: KafkaError) -> None:
        """The resume offset is not in the partition's log (``auto.offset.reset`` is ``error``, so
        librdkafka never picks a position itself): apply the offset-reset policy."""
        where = f"{self._topic}[{self._partition}]"
        try:
            low, high = self._consumer.get_watermark_offsets(
                TopicPartition(self._topic, self._partition), timeout=10, cached=False
            )
            log_range = f"[{low}, {high})"
        except KafkaException as watermark_error:
            log_range = f"unknown ({watermark_error})"
        if self._offset_reset != RESET_EARLIEST:
            raise OffsetOutOfRangeError(
                f"the resume offset {self._offset} of {where} is out of the partition's log {log_range} "
                f"(retention deleted unread records, or the topic was recreated): {error.str()}; "
                f"PERSONA_OFFSET_RESET={self._offset_reset} stops here; set it to {RESET_EARLIEST} to "
                "reprocess the partition from its beginning, or reset the recovery store"
            )
        log.warning(
            "resume offset out of range: topic=%s partition=%d offset=%d log=%s policy=%s: "
            "reading the partition from its beginning",
            self._topic,
            self._partition,
            self._offset,
            log_range.replace(" ", ""),
            RESET_EARLIEST,
        )
        # A seek is refused in this error state; a new assignment restarts the fetcher.
        self._consumer.assign([TopicPartition(self._topic, self._partition, OFFSET_BEGINNING)])

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
        offset_reset: str = RESET_EARLIEST,
        add_config: dict[str, Any] | None = None,
    ) -> None:
        if offset_reset not in OFFSET_RESET_POLICIES:
            raise ValueError(f"offset_reset must be one of {OFFSET_RESET_POLICIES}, got {offset_reset!r}")
        self._brokers = brokers
        self._topics = list(topics)
        self._batch_size = batch_size
        # The admin client that lists the partitions connects with the same security settings.
        self._add_config: dict[str, Any] = dict(add_config or {})
        self._offset_reset = offset_reset
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
            # Never let librdkafka move an out-of-range resume offset (its default is `latest`, which
            # skips data silently): it reports _AUTO_OFFSET_RESET and the partition applies the
            # policy (`offset_reset`).
            "auto.offset.reset": "error",
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
        return _RawPartition(
            dict(self._config), topic, int(index), offset, self._batch_size, self._offset_reset
        )


class UnwritableDeadLetterError(RuntimeError):
    """A dead letter was rejected for itself: the dead-letter topic's configuration is wrong (its
    ``max.message.bytes`` is below ``DEAD_LETTER_MAX_BYTES``), no record can fix that."""


class KafkaDeliveryError(RuntimeError):
    """Kafka did not take records it should have (broker down, timeout, unknown topic, denied): the
    epoch is not committed, and a restart resends them."""


class _ProducerPartition(StatefulSinkPartition[list[OutRecord], None]):
    def __init__(self, config: dict[str, Any]) -> None:
        self._failures: list[str] = []
        # Records Kafka rejected with an unwritable code, by delivery report: possibly innocent, as the
        # broker rejects a whole batch for one record in it (dead letters included).
        self._rejected: list[tuple[str, bytes | None, bytes | None, KafkaError]] = []
        self._lock = threading.Lock()
        self._producer = Producer({**config, "on_delivery": self._on_delivery})
        self.dead_letters = 0

    def _on_delivery(self, error: KafkaError | None, message: Any) -> None:
        # With delivery.report.only.error this runs for failed records only.
        if error is None:
            return
        topic = str(message.topic())
        with self._lock:
            if is_unwritable(error):
                self._rejected.append((topic, message.key(), message.value(), error))
            else:
                self._failures.append(f"{topic}[{message.partition()}]: {error.name()}: {error.str()}")

    def write_batch(self, values: list[list[OutRecord]]) -> None:
        producer = self._producer
        for batch in values:
            for topic, key, value in batch:
                try:
                    produce(producer, topic, value, key)
                except KafkaException as exc:
                    # librdkafka refuses some records before sending them (larger than its
                    # message.max.bytes): only the record itself is at fault.
                    error = exc.args[0] if exc.args else None
                    if not isinstance(error, KafkaError) or not is_unwritable(error):
                        raise
                    self._dead_letter(topic, key, value, error)
        producer.poll(0)

    def _dead_letter(self, topic: str, key: bytes | None, value: bytes | None, error: KafkaError) -> None:
        if is_dead_letter_topic(topic):
            # Never a dead letter of a dead letter: no chain of .dlq.dlq topics, no loop.
            raise UnwritableDeadLetterError(
                f"a dead letter to {topic} ({len(value or b'')} bytes) cannot be written: "
                f"{error.name()}: {error.str()}; check that topic's max.message.bytes "
                f"(at least {DEAD_LETTER_MAX_BYTES} is needed)"
            )
        self.dead_letters += 1
        log.warning(
            "unwritable record dead-lettered: topic=%s code=%s key_bytes=%d value_bytes=%d dead_letters=%d",
            topic,
            error.name(),
            len(key or b""),
            len(value or b""),
            self.dead_letters,
        )
        dlq_topic, dlq_key, dlq_value = dead_letter(topic, key, value, unwritable_reason(error))
        try:
            produce(self._producer, dlq_topic, dlq_value, dlq_key)
        except KafkaException as exc:
            raise UnwritableDeadLetterError(f"a dead letter to {dlq_topic} cannot be written: {exc}") from exc

    def snapshot(self) -> None:
        self._flush()

    def _settle(self) -> None:
        """Wait for every record's delivery; fail on anything but a record rejected for itself."""
        remaining = self._producer.flush(FLUSH_TIMEOUT)
        if remaining:
            raise KafkaDeliveryError(
                f"{remaining} records not acknowledged by Kafka within {FLUSH_TIMEOUT:.0f} s "
                "(broker down or unreachable?); the epoch is not committed, a restart resends them"
            )
        with self._lock:
            failures, self._failures = self._failures, []
        if failures:
            raise KafkaDeliveryError(
                f"{len(failures)} records could not be produced; the epoch is not committed, a restart "
                f"resends them; first: {failures[0]}"
            )

    def _flush(self) -> None:
        self._settle()
        # A second round at most: what the first rejects are dead letters, and a dead letter rejected
        # alone fails the flow.
        while True:
            with self._lock:
                rejected, self._rejected = self._rejected, []
            if not rejected:
                return
            # Each alone, in their order: a record rejected again when it is the only one in its batch
            # is at fault, the others were its batch-mates and are now written.
            for topic, key, value, _error in rejected:
                alone = self._write_alone(topic, key, value)
                if alone is not None:
                    self._dead_letter(topic, key, value, alone)
            self._settle()

    def _write_alone(self, topic: str, key: bytes | None, value: bytes | None) -> KafkaError | None:
        """Produce one record and wait for it: its unwritable error, or None once it is written."""
        errors: list[KafkaError] = []

        def on_delivery(error: KafkaError | None, _message: Any) -> None:
            if error is not None:
                errors.append(error)

        try:
            produce(self._producer, topic, value, key, on_delivery=on_delivery)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and is_unwritable(error):
                return error
            raise
        if self._producer.flush(FLUSH_TIMEOUT):
            raise KafkaDeliveryError(
                f"a record to {topic} was not acknowledged by Kafka within {FLUSH_TIMEOUT:.0f} s"
            )
        if not errors:
            return None
        if is_unwritable(errors[0]):
            return errors[0]
        raise KafkaDeliveryError(
            f"a record to {topic} could not be produced; the epoch is not committed, a restart resends "
            f"it: {errors[0].name()}: {errors[0].str()}"
        )

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
