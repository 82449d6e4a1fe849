"""persona.localstack: the local real-services stack (Kafka 4 KRaft + Cassandra 5 as child JVMs).

A library: nothing runs and nothing reads the environment at import. Entry points build
``StackSettings.from_env(os.environ)`` and call :func:`up`, :func:`down`, :func:`status` or
:func:`init_schema`.
"""

from __future__ import annotations

from persona.localstack.clients import cassandra_session, create_topic, kafka_admin
from persona.localstack.errors import StackError
from persona.localstack.schema import (
    INVENTORY_COLUMNS_CQL,
    INVENTORY_TABLE,
    SUPPLY_KEYSPACE,
    InitReport,
    TopicSpec,
    init_schema,
    paimon_table_presence,
    pipeline_topics,
)
from persona.localstack.settings import StackSettings
from persona.localstack.stack import (
    ALL_SERVICES,
    OPTIONAL_SERVICES,
    SERVICES,
    ServiceStatus,
    UpReport,
    down,
    log_file,
    probe,
    running_pid,
    status,
    up,
)

__all__ = [
    "ALL_SERVICES",
    "INVENTORY_COLUMNS_CQL",
    "INVENTORY_TABLE",
    "OPTIONAL_SERVICES",
    "SERVICES",
    "SUPPLY_KEYSPACE",
    "InitReport",
    "ServiceStatus",
    "StackError",
    "StackSettings",
    "TopicSpec",
    "UpReport",
    "cassandra_session",
    "create_topic",
    "down",
    "init_schema",
    "kafka_admin",
    "log_file",
    "paimon_table_presence",
    "pipeline_topics",
    "probe",
    "running_pid",
    "status",
    "up",
]
