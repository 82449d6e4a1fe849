"""Dead letters: the record that replaces one that cannot be used or cannot be written, and which Kafka
errors mean "this record can never be written" (as opposed to "Kafka cannot take records right now").

A dead letter goes to ``<source topic>.dlq`` (``Topics.dlq``) and is always small enough for a topic
with Kafka's default size limit, whatever the record it stands for: its raw bytes are cut until it
fits ``DEAD_LETTER_MAX_BYTES`` (``persona.contracts.dlq``).
"""

from __future__ import annotations

import time
from typing import Final

from confluent_kafka import KafkaError

from persona.contracts import DLQ_MAX_BYTES, Topics, dlq_record_to_json

OutRecord = tuple[str, bytes | None, bytes | None]
"""A record to produce: (topic, key, value)."""

DLQ_SUFFIX: Final = Topics.dlq("")
"""What every dead-letter topic's name ends with."""

# The broker's default max.message.bytes is 1 MiB + 12 and the producer's message.max.bytes 1,000,000;
# DLQ_MAX_BYTES leaves room for the key, headers and batch framing under both.
DEAD_LETTER_MAX_BYTES: Final = DLQ_MAX_BYTES
# A dead letter keeps its record's key (where it came from, for an operator) unless it is absurd.
KEY_MAX_BYTES: Final = 4096

UNWRITABLE_CODES: Final = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_MSG,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_RECORD,
        KafkaError.INVALID_TIMESTAMP,
    }
)
"""Errors for which Kafka rejects a record for what it is (its size, its content, its timestamp):
sending it again can never succeed. Every other error (a broker down, a timeout, an unknown topic, an
authorization failure) is about Kafka or its configuration, not the record."""


def is_unwritable(error: KafkaError) -> bool:
    """Whether ``error`` rejects a record for itself, permanently (``UNWRITABLE_CODES``)."""
    return error.code() in UNWRITABLE_CODES and not error.retriable() and not error.fatal()


def is_dead_letter_topic(topic: str) -> bool:
    return topic.endswith(DLQ_SUFFIX)


def unwritable_reason(error: KafkaError) -> str:
    """The dead-letter reason of a record Kafka rejected: ``unwritable: <code>: <broker's text>``."""
    return f"unwritable: {error.name()}: {error.str()}"


def dead_letter(
    source_topic: str, key: bytes | None, raw: bytes | None, reason: str, now_ms: int | None = None
) -> OutRecord:
    """The DLQ record of a record that could not be used: its reason and original bytes, bounded by
    ``dlq_record_to_json`` to ``DEAD_LETTER_MAX_BYTES`` (cut and flagged truncated when they must be)."""
    failed_at = int(time.time() * 1000) if now_ms is None else now_ms
    value = dlq_record_to_json(source_topic, reason, raw or b"", failed_at, max_bytes=DEAD_LETTER_MAX_BYTES)
    if key is not None and len(key) > KEY_MAX_BYTES:
        key = None
    return (Topics.dlq(source_topic), key, value)
