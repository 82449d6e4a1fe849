"""What the bench reads from Kafka outside the flows: end offsets, and whole topics read back.

The only module of the bench that uses confluent-kafka directly, so moving these reads onto
``persona.kafka`` is a change here alone.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

from confluent_kafka import Consumer, TopicPartition


class EndOffsets:
    """Kafka end offsets through one long-lived consumer (cheap to ask every second)."""

    def __init__(self, bootstrap: str) -> None:
        self._consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": f"persona-bench-offsets-{uuid.uuid4().hex}"}
        )
        self._partitions: dict[str, list[int]] = {}

    def end(self, topic: str) -> dict[int, int]:
        """partition -> end offset of ``topic``."""
        if topic not in self._partitions:
            meta = self._consumer.list_topics(topic, timeout=10)
            self._partitions[topic] = sorted(meta.topics[topic].partitions)
        return {
            p: int(
                self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
            )
            for p in self._partitions[topic]
        }

    def close(self) -> None:
        self._consumer.close()


def drain_topics(bootstrap: str, topics: list[str]) -> Iterator[list[Any]]:
    """Batches of messages of ``topics`` from the beginning up to their end offsets at the call
    (confluent-kafka ``Message``s: ``value()``, ``timestamp()``); it gives up after 30 s without
    a message."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"persona-bench-read-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "fetch.max.bytes": 64 * 2**20,
            "max.partition.fetch.bytes": 16 * 2**20,
        }
    )
    try:
        remaining: dict[tuple[str, int], int] = {}
        assignment = []
        for topic in topics:
            meta = consumer.list_topics(topic, timeout=10)
            for p in sorted(meta.topics[topic].partitions):
                _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                if high > 0:
                    remaining[(topic, p)] = int(high)
                    assignment.append(TopicPartition(topic, p, 0))
        consumer.assign(assignment)
        idle_deadline = time.monotonic() + 30
        while remaining and time.monotonic() < idle_deadline:
            batch = consumer.consume(10_000, 1.0)
            if not batch:
                continue
            idle_deadline = time.monotonic() + 30
            good = [m for m in batch if m.error() is None]
            for m in good:
                key = (str(m.topic()), int(m.partition() or 0))
                end = remaining.get(key)
                if end is not None and int(m.offset() or 0) >= end - 1:
                    del remaining[key]
            yield good
    finally:
        consumer.close()
