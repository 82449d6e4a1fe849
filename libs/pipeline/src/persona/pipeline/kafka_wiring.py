"""Kafka wiring shared by the flows: the source, the sink, and dead-letter messages."""

from __future__ import annotations

import time
import uuid

from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage, KafkaSource

from persona.contracts import dlq_record_to_json
from persona.pipeline.settings import PipelineSettings

RawMessage = KafkaSinkMessage[bytes | None, bytes | None]


def kafka_source(settings: PipelineSettings, topics: list[str], flow_name: str) -> KafkaSource:
    return KafkaSource(
        settings.brokers,
        topics,
        tail=True,
        add_config={
            # Offsets are kept by Bytewax recovery; the group id only names the flow for operators.
            "group.id": f"{settings.group_prefix}-{flow_name}",
            "client.id": f"{settings.group_prefix}-{flow_name}-{uuid.uuid4().hex[:8]}",
            "fetch.wait.max.ms": "50",
        },
        batch_size=2000,
    )


def kafka_sink(settings: PipelineSettings) -> KafkaSink:
    # Each message names its own topic (outputs and dead letters share one producer).
    return KafkaSink(
        settings.brokers,
        None,
        add_config={"linger.ms": "5", "compression.type": "lz4", "enable.idempotence": "true"},
    )


def dead_letter(
    source_topic: str, key: bytes | None, raw: bytes | None, reason: str, now_ms: int | None = None
) -> RawMessage:
    """The DLQ message of a record that could not be used: its reason and original bytes."""
    failed_at = int(time.time() * 1000) if now_ms is None else now_ms
    value = dlq_record_to_json(source_topic, reason, raw or b"", failed_at)
    return KafkaSinkMessage(key=key, value=value, topic=f"{source_topic}.dlq")
