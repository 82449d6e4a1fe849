"""Small client helpers for the local Kafka and Cassandra, shared by the stack, tests and tools."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from cassandra import ProtocolVersion
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import RoundRobinPolicy

from persona.kafka import KafkaAdmin, KafkaAdminError
from persona.localstack.errors import StackError
from persona.localstack.settings import StackSettings


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
    credentials = settings.cassandra_security.credentials()
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
        auth_provider=PlainTextAuthProvider(*credentials) if credentials else None,
        ssl_context=settings.cassandra_security.ssl_context(),
    )
    try:
        session = cluster.connect(keyspace)
        yield session
    finally:
        cluster.shutdown()


def kafka_admin(settings: StackSettings) -> KafkaAdmin:
    """An admin client of the local broker."""
    return KafkaAdmin(settings.kafka_bootstrap, **settings.kafka_security.client_config())


def create_topic(
    settings: StackSettings,
    name: str,
    partitions: int,
    config: Mapping[str, str] | None = None,
    *,
    admin: KafkaAdmin | None = None,
    timeout: float = 30.0,
) -> bool:
    """Create ``name`` on the local broker (replication 1: it is the only one) and wait until it is
    usable; False if it already existed."""
    try:
        return (admin or kafka_admin(settings)).create_topic(name, partitions, config, timeout=timeout)
    except KafkaAdminError as error:
        raise StackError(str(error)) from error
