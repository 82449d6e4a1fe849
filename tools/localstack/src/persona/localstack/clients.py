"""Small client helpers for the local Kafka and Cassandra, shared by the stack, tests and tools."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from cassandra import ProtocolVersion
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import RoundRobinPolicy
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from persona.localstack.errors import StackError
from persona.localstack.settings import StackSettings


def kafka_admin(settings: StackSettings, **config: Any) -> AdminClient:
    """An AdminClient for the local broker; ``config`` adds or overrides librdkafka properties."""
    return AdminClient({"bootstrap.servers": settings.kafka_bootstrap, **config})


@contextmanager
def cassandra_session(
    settings: StackSettings,
    keyspace: str | None = None,
    *,
    connect_timeout: float = 10.0,
    metadata: bool = True,
) -> Iterator[Session]:
    """A session on the local node; the driver's Cluster (threads, sockets) is shut down on exit.

    ``metadata=False`` skips the driver's schema and token metadata refresh, which makes connecting
    several times faster when only a query is needed (health probes).
    """
    host, port = settings.cassandra_contact
    cluster = Cluster(
        [host],
        port=port,
        # An explicit profile: the driver warns about an implicit load-balancing policy, and about the
        # legacy keyword form (DeprecationWarning). One node, so plain round robin.
        execution_profiles={EXEC_PROFILE_DEFAULT: ExecutionProfile(load_balancing_policy=RoundRobinPolicy())},
        # Pinning v5 (Cassandra 5's newest) skips the driver's downgrade handshake and its log warning.
        protocol_version=ProtocolVersion.V5,
        connect_timeout=connect_timeout,
        control_connection_timeout=connect_timeout,
        schema_metadata_enabled=metadata,
        token_metadata_enabled=metadata,
    )
    try:
        session = cluster.connect(keyspace)
        yield session
    finally:
        cluster.shutdown()


def wait_topic_ready(admin: AdminClient, name: str, timeout: float = 15.0) -> None:
    """Wait until every partition of ``name`` has a leader, so producers and consumers can use it at once."""
    deadline = time.monotonic() + timeout
    while True:
        metadata = admin.list_topics(topic=name, timeout=max(0.5, deadline - time.monotonic()))
        topic = metadata.topics.get(name)
        if (
            topic is not None
            and topic.error is None
            and topic.partitions
            and all(partition.leader >= 0 for partition in topic.partitions.values())
        ):
            return
        if time.monotonic() >= deadline:
            raise StackError(f"Kafka topic {name} has no leader for every partition after {timeout:.0f} s")
        time.sleep(0.1)


def create_topic(
    settings: StackSettings,
    name: str,
    partitions: int,
    config: Mapping[str, str] | None = None,
    *,
    admin: AdminClient | None = None,
    timeout: float = 30.0,
) -> bool:
    """Create ``name`` (replication 1) and wait until it is usable; False if it already existed."""
    admin = admin if admin is not None else kafka_admin(settings)
    future = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=dict(config or {}))],
        request_timeout=timeout,
    )[name]
    created = True
    try:
        future.result(timeout=timeout)
    except KafkaException as error:
        kafka_error = error.args[0] if error.args else None
        exists = isinstance(kafka_error, KafkaError) and kafka_error.code() == KafkaError.TOPIC_ALREADY_EXISTS
        if not exists:
            raise StackError(f"creating Kafka topic {name} failed: {error}") from error
        created = False
    wait_topic_ready(admin, name, timeout=timeout)
    return created
