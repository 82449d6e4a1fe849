"""Producers for the tools (the generator, the bench, tests) and the one back-pressure produce loop
every producer of persona uses, the flows' Kafka sink included."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer


def producer_config(
    bootstrap: str, security: Mapping[str, Any] | None = None, /, **overrides: Any
) -> dict[str, Any]:
    """:func:`make_producer`'s librdkafka properties: its defaults, the caller's tuning
    (``overrides``) over them, and ``security`` (``KafkaSecurity.client_config()``) over both, so a
    secured cluster's settings always win. ``security`` is positional: every other keyword is a
    librdkafka property."""
    return {
        "bootstrap.servers": bootstrap,
        "linger.ms": 5,
        "compression.type": "lz4",
        "enable.idempotence": True,
        "queue.buffering.max.messages": 500_000,
        **overrides,
        **(security or {}),
    }


def make_producer(bootstrap: str, security: Mapping[str, Any] | None = None, /, **overrides: Any) -> Producer:
    """An idempotent, lz4-compressing producer with a deep local queue; ``overrides`` are librdkafka
    tuning properties, ``security`` the security settings (:func:`producer_config`)."""
    return Producer(producer_config(bootstrap, security, **overrides))


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
