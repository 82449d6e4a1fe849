"""The local Kafka node: topics from init, and a produce/consume round trip on a fresh topic."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, Producer

from persona.localstack import StackSettings, create_topic, kafka_admin, pipeline_topics

pytestmark = pytest.mark.integration


def _delete_topic(settings: StackSettings, name: str) -> None:
    kafka_admin(settings).delete_topics([name])


def test_init_created_every_pipeline_topic_with_its_layout(stack: StackSettings) -> None:
    admin = kafka_admin(stack)
    present = admin.topic_names(timeout=10)
    for spec in pipeline_topics():
        assert spec.name in present, spec.name
        assert len(admin.partitions(spec.name)) == stack.partitions, spec.name
    assert admin.topic_config("marketing_segments_rt")["cleanup.policy"] == "compact"


def test_produce_then_consume_on_a_fresh_topic(
    stack: StackSettings, unique_name: Callable[[str], str]
) -> None:
    topic = unique_name("stack_roundtrip")
    assert create_topic(stack, topic, partitions=3) is True
    # A second create reports that the topic was already there instead of failing.
    assert create_topic(stack, topic, partitions=3) is False
    try:
        sent = {f"key-{i}".encode(): f"value-{i}".encode() for i in range(50)}
        producer = Producer({"bootstrap.servers": stack.kafka_bootstrap, "enable.idempotence": True})
        for key, value in sent.items():
            producer.produce(topic, key=key, value=value)
        assert producer.flush(30) == 0

        consumer = Consumer(
            {
                "bootstrap.servers": stack.kafka_bootstrap,
                "group.id": unique_name("stack_roundtrip_group"),
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        received: dict[bytes, bytes] = {}
        partitions_seen: set[int] = set()
        try:
            consumer.subscribe([topic])
            deadline = time.monotonic() + 60
            while len(received) < len(sent) and time.monotonic() < deadline:
                message = consumer.poll(0.5)
                if message is None:
                    continue
                assert message.error() is None, message.error()
                got_key, got_value, partition = message.key(), message.value(), message.partition()
                assert got_key is not None and got_value is not None and partition is not None
                received[got_key] = got_value
                partitions_seen.add(partition)
        finally:
            consumer.close()
        assert received == sent
        # Keys spread over the topic's partitions: the topic really has the requested layout.
        assert len(partitions_seen) > 1
    finally:
        _delete_topic(stack, topic)


def test_the_flows_kafka_source_polls_at_most_poll_records_in_offset_order(
    stack: StackSettings, unique_name: Callable[[str], str]
) -> None:
    from persona.flows.common.wiring import raw_source
    from persona.settings import PipelineSettings

    topic = unique_name("raw_source")
    create_topic(stack, topic, partitions=1)
    try:
        producer = Producer({"bootstrap.servers": stack.kafka_bootstrap, "linger.ms": 50})
        for i in range(2_500):
            producer.produce(topic, key=str(i).encode(), value=f"v{i}".encode())
        assert producer.flush(30) == 0
        settings = PipelineSettings.from_env(
            {"PERSONA_KAFKA_BOOTSTRAP": stack.kafka_bootstrap, "PERSONA_POLL_RECORDS": "700"}
        )
        source = raw_source(settings, [topic], unique_name("raw_source_flow"))
        (part,) = source.list_parts()
        partition = source.build_part("in", part, None)
        sizes: list[int] = []
        values: list[bytes] = []
        try:
            deadline = time.monotonic() + 60
            while len(values) < 2_500 and time.monotonic() < deadline:
                for batch in partition.next_batch():
                    assert batch.topic == topic and batch.keys == [
                        str(int(v[1:])).encode() for v in batch.values
                    ]
                    sizes.append(len(batch))
                    values.extend(batch.values)
            # Resume after the last record handed on (what Bytewax recovery stores).
            assert partition.snapshot() == 2_500
        finally:
            partition.close()
        assert values == [f"v{i}".encode() for i in range(2_500)]
        assert max(sizes) == 700  # the consumer had all of them queued: full polls, none larger
    finally:
        _delete_topic(stack, topic)
