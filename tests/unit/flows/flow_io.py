"""Feeding the flows as their Kafka source does (``RawBatch`` per poll) and reading what they hand to
their Kafka sink (items whose value is a list of ``(topic, key, value)`` records)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from persona.kafka.bytewax_io import OutRecord, RawBatch


def batches(messages: Iterable[tuple[str, bytes | None, bytes | None]], size: int = 64) -> list[RawBatch]:
    """``(topic, key, value)`` messages in order -> batches of consecutive messages of one topic."""
    out: list[RawBatch] = []
    for topic, key, value in messages:
        if out and out[-1].topic == topic and len(out[-1]) < size:
            out[-1].keys.append(key)
            out[-1].values.append(value)
        else:
            out.append(RawBatch(topic, 0, [key], [value]))
    return out


def records(items: Iterable[tuple[str, Any]]) -> list[OutRecord]:
    """Every record of the Kafka sink's items, in order."""
    return [record for _key, batch in items for record in batch]


def decision_rows(out: Iterable[OutRecord], topic: str = "segment_decisions") -> list[dict[str, Any]]:
    """The decision (audit) rows of every ``segment_decisions`` message in ``out``, in order."""
    from persona.contracts import decode_decisions
    from persona.flows.sink.rows import decisions_table

    return [
        row
        for t, _k, v in out
        if t == topic
        for row in decisions_table(decode_decisions(v or b"")).to_pylist()
    ]
