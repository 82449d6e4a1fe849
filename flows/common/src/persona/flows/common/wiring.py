"""The flows' Kafka source and sink, configured from the flow settings, security settings
(``PERSONA_KAFKA_SECURITY_PROTOCOL``, SASL, TLS, ``PERSONA_KAFKA_CONFIG_FILE``) included."""

from __future__ import annotations

from persona.kafka.bytewax_io import KafkaBatchSink, RawKafkaSource
from persona.settings import PipelineSettings


def raw_source(settings: PipelineSettings, topics: list[str], flow_name: str) -> RawKafkaSource:
    return RawKafkaSource(
        settings.kafka_bootstrap,
        topics,
        group_id=f"{settings.group_prefix}-{flow_name}",
        batch_size=settings.poll_records,
        add_config=settings.kafka_security.client_config(),
        offset_reset=settings.offset_reset,
    )


def batch_sink(settings: PipelineSettings) -> KafkaBatchSink:
    return KafkaBatchSink(settings.kafka_bootstrap, add_config=settings.kafka_security.client_config())
