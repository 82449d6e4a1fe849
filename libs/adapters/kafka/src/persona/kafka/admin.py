"""Topic administration and the health probe: creating (idempotently), listing, describing and
deleting topics, and asking a cluster who it is."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

# Where they are defined: confluent_kafka.admin re-exports them without declaring it, so strict
# typing would reject importing them from there.
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.cimpl import NewTopic

from persona.contracts import Topics

COMPACTED: Mapping[str, str] = {"cleanup.policy": "compact"}
"""The config of a compacted topic: a "latest record per key" stream."""


class KafkaAdminError(RuntimeError):
    """An admin request failed or timed out; the message says which and why."""


@dataclass(frozen=True)
class ClusterInfo:
    cluster_id: str | None
    topics: int


def topic_configs(topics: Topics) -> dict[str, dict[str, str]]:
    """Every topic of ``topics`` (dead-letter topics included) with its topic-level config.

    ``Topics.compacted()`` are "latest row per key" streams (``marketing_segments_rt``: one row per
    customer, and GDPR erasure relies on its tombstones being compacted away).
    """
    compacted = topics.compacted()
    return {name: dict(COMPACTED) if name in compacted else {} for name in topics.all_topics()}


class KafkaAdmin:
    """One admin client of a cluster.

    Keep the instance until its requests are answered: a collected client fails its pending requests.
    """

    def __init__(self, bootstrap: str, **config: Any) -> None:
        """``config`` adds or overrides librdkafka properties."""
        self._client = AdminClient({"bootstrap.servers": bootstrap, **config})

    def cluster(self, timeout: float = 3.0) -> ClusterInfo:
        """The cluster id and topic count: a broker answering this is healthy."""
        try:
            metadata = self._client.list_topics(timeout=timeout)
        except KafkaException as error:
            raise KafkaAdminError(f"metadata request failed: {error}") from error
        return ClusterInfo(metadata.cluster_id, len(metadata.topics))

    def topic_names(self, timeout: float = 10.0) -> set[str]:
        try:
            return set(self._client.list_topics(timeout=timeout).topics)
        except KafkaException as error:
            raise KafkaAdminError(f"listing Kafka topics failed: {error}") from error

    def partitions(self, topic: str, timeout: float = 10.0) -> list[int]:
        """The partition ids of ``topic``."""
        try:
            meta = self._client.list_topics(topic, timeout=timeout).topics[topic]
        except KafkaException as error:
            raise KafkaAdminError(f"listing the partitions of Kafka topic {topic} failed: {error}") from error
        if meta.error is not None:
            raise KafkaAdminError(f"cannot list the partitions of Kafka topic {topic!r}: {meta.error.str()}")
        return sorted(meta.partitions)

    def topic_config(self, topic: str, timeout: float = 10.0) -> dict[str, str]:
        """The effective topic-level config of ``topic`` (defaults included)."""
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        try:
            entries = self._client.describe_configs([resource])[resource].result(timeout=timeout)
        except KafkaException as error:
            raise KafkaAdminError(f"describing Kafka topic {topic} failed: {error}") from error
        return {name: entry.value for name, entry in entries.items()}

    def create_topic(
        self,
        name: str,
        partitions: int,
        config: Mapping[str, str] | None = None,
        *,
        replication: int = 1,
        timeout: float = 30.0,
    ) -> bool:
        """Create ``name`` and wait until it is usable; False if it already existed (it is left as it is)."""
        future = self._client.create_topics(
            [
                NewTopic(
                    name, num_partitions=partitions, replication_factor=replication, config=dict(config or {})
                )
            ],
            request_timeout=timeout,
        )[name]
        created = True
        try:
            future.result(timeout=timeout)
        except KafkaException as error:
            if _code(error) != KafkaError.TOPIC_ALREADY_EXISTS:
                raise KafkaAdminError(f"creating Kafka topic {name} failed: {error}") from error
            created = False
        self.wait_topic_ready(name, timeout=timeout)
        return created

    def wait_topic_ready(self, name: str, timeout: float = 15.0) -> None:
        """Wait until every partition of ``name`` has a leader, so producers and consumers can use it at once."""
        deadline = time.monotonic() + timeout
        while True:
            metadata = self._client.list_topics(topic=name, timeout=max(0.5, deadline - time.monotonic()))
            topic = metadata.topics.get(name)
            if (
                topic is not None
                and topic.error is None
                and topic.partitions
                and all(partition.leader >= 0 for partition in topic.partitions.values())
            ):
                return
            if time.monotonic() >= deadline:
                raise KafkaAdminError(
                    f"Kafka topic {name} has no leader for every partition after {timeout:.0f} s"
                )
            time.sleep(0.1)  # polling interval while the controller elects leaders

    def delete_topics(self, names: Iterable[str], *, timeout: float = 30.0, missing_ok: bool = False) -> None:
        """Delete ``names`` and wait for the answers; ``missing_ok`` ignores topics that do not exist."""
        names = list(names)
        if not names:
            return
        failures: list[str] = []
        for name, future in self._client.delete_topics(names, operation_timeout=timeout).items():
            try:
                future.result(timeout=timeout)
            except KafkaException as error:
                if not (missing_ok and _code(error) == KafkaError.UNKNOWN_TOPIC_OR_PART):
                    failures.append(f"{name}: {error}")
        if failures:
            raise KafkaAdminError(f"deleting Kafka topics failed: {'; '.join(failures)}")


def _code(error: KafkaException) -> Any:
    kafka_error = error.args[0] if error.args else None
    return kafka_error.code() if isinstance(kafka_error, KafkaError) else None
