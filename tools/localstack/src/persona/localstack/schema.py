"""Schema bootstrap (`persona stack init`): Kafka topics, the Cassandra keyspace and table, Paimon tables.

Everything is create-if-missing: what exists is left exactly as it is, and the report says which
objects were created and which were already there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from persona.contracts import Topics
from persona.kafka import KafkaAdminError, topic_configs
from persona.localstack.catalog import PUBLICATION_NAMESPACE, ensure_nessie_main
from persona.localstack.clients import cassandra_session, create_topic, kafka_admin
from persona.localstack.connect import default_connector, ensure_running_connector
from persona.localstack.crm_schema import ensure_crm_schema
from persona.localstack.errors import StackError
from persona.localstack.settings import StackSettings
from persona.nessie import NessieError
from persona.settings import registry

# What the flows read unless told otherwise: the stack creates it.
SUPPLY_KEYSPACE = registry.INVENTORY_KEYSPACE.default
INVENTORY_TABLE = registry.INVENTORY_TABLE.default


@dataclass(frozen=True)
class TopicSpec:
    name: str
    config: dict[str, str] = field(default_factory=dict)


def pipeline_topics() -> tuple[TopicSpec, ...]:
    """Every topic the flows use, dead-letter topics included, with its topic-level config.

    ``persona.contracts.Topics`` is the one list of topic names (the flows read it too), so a topic
    added there is created here without a second edit.
    """
    return tuple(TopicSpec(name, config) for name, config in topic_configs(Topics()).items())


# The columns of supply.inventory_projection (DESIGN §2), also for the private copies that tests and
# benchmarks create: f"CREATE TABLE {name} {INVENTORY_COLUMNS_CQL}".
INVENTORY_COLUMNS_CQL = (
    "(sku_id text PRIMARY KEY, available_qty bigint, reserved_qty bigint, updated_at timestamp)"
)
INVENTORY_TABLE_CQL = (
    f"CREATE TABLE IF NOT EXISTS {SUPPLY_KEYSPACE}.{INVENTORY_TABLE} {INVENTORY_COLUMNS_CQL}"
)
SUPPLY_KEYSPACE_CQL = (
    f"CREATE KEYSPACE IF NOT EXISTS {SUPPLY_KEYSPACE} "
    "WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
)


@dataclass(frozen=True)
class InitReport:
    """What `init` did: objects it created and objects that were already there (human-readable names)."""

    created: tuple[str, ...]
    existing: tuple[str, ...]


def ensure_kafka_topics(settings: StackSettings) -> tuple[list[str], list[str]]:
    admin = kafka_admin(settings)
    try:
        present = admin.topic_names(timeout=10)
    except KafkaAdminError as error:
        raise StackError(str(error)) from error
    created: list[str] = []
    existing: list[str] = []
    for spec in pipeline_topics():
        label = f"kafka topic {spec.name}"
        if spec.name in present:
            existing.append(label)
        elif create_topic(settings, spec.name, settings.partitions, spec.config, admin=admin):
            created.append(label)
        else:
            existing.append(label)
    return created, existing


def ensure_cassandra_schema(settings: StackSettings) -> tuple[list[str], list[str]]:
    created: list[str] = []
    existing: list[str] = []
    with cassandra_session(settings, metadata=False) as session:
        keyspace_found = (
            session.execute(
                "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = %s",
                (SUPPLY_KEYSPACE,),
            ).one()
            is not None
        )
        table_found = (
            session.execute(
                "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s AND table_name = %s",
                (SUPPLY_KEYSPACE, INVENTORY_TABLE),
            ).one()
            is not None
        )
        # IF NOT EXISTS keeps a concurrent init harmless; the lookups above only feed the report.
        session.execute(SUPPLY_KEYSPACE_CQL)
        session.execute(INVENTORY_TABLE_CQL)
    (existing if keyspace_found else created).append(f"cassandra keyspace {SUPPLY_KEYSPACE}")
    (existing if table_found else created).append(f"cassandra table {SUPPLY_KEYSPACE}.{INVENTORY_TABLE}")
    return created, existing


def ensure_paimon_tables(settings: StackSettings) -> tuple[list[str], list[str]]:
    # Imported here: the Paimon stack (pyarrow, pypaimon) is heavy and only init/status need it.
    from persona.paimon.schema import TABLES, ensure_tables

    settings.warehouse.mkdir(parents=True, exist_ok=True)
    # ensure_tables names the created tables without the database; accept qualified names as well.
    created_names = {name.split(".")[-1] for name in ensure_tables(settings.warehouse)}
    created = [f"paimon table {spec.identifier}" for spec in TABLES if spec.name in created_names]
    existing = [f"paimon table {spec.identifier}" for spec in TABLES if spec.name not in created_names]
    return created, existing


def paimon_table_presence(warehouse: Path) -> dict[str, bool]:
    """For every pipeline table (``database.table``): whether it exists in the filesystem warehouse.

    Read from the directory layout (a table exists once it has a schema file), so checking does not
    open the catalog.
    """
    from persona.paimon.schema import TABLES

    presence: dict[str, bool] = {}
    for spec in TABLES:
        database, table = spec.identifier.split(".", 1)
        schema_dir = warehouse / f"{database}.db" / table / "schema"
        presence[spec.identifier] = schema_dir.is_dir() and any(schema_dir.glob("schema-*"))
    return presence


def init_schema(settings: StackSettings, *, crm: bool = True) -> InitReport:
    """Create every missing topic, keyspace, table, CRM table and user, register the CDC connector and
    give Nessie's main its first commit (``ensure_nessie_main``); needs the services up. ``crm=False`` skips the CRM and its connector (a stack of Kafka
    and Cassandra only, such as the secured one of the security tests)."""
    kafka_created, kafka_existing = ensure_kafka_topics(settings)
    cassandra_created, cassandra_existing = ensure_cassandra_schema(settings)
    paimon_created, paimon_existing = ensure_paimon_tables(settings)
    if not crm:
        return InitReport(
            created=(*kafka_created, *cassandra_created, *paimon_created),
            existing=(*kafka_existing, *cassandra_existing, *paimon_existing),
        )
    crm_created, crm_existing = ensure_crm_schema(settings)
    # After the CRM's users exist: the connector logs in as the CDC user.
    connector_created, state = ensure_running_connector(settings)
    label = [f"debezium connector {state.name} -> {default_connector(settings).target_topic}"]
    main_label = [f"nessie main: namespace {PUBLICATION_NAMESPACE}"]
    try:
        main_created = ensure_nessie_main(settings)
    except NessieError as error:
        raise StackError(f"cannot give Nessie's main its first commit: {error}") from None
    return InitReport(
        created=(
            *kafka_created,
            *cassandra_created,
            *paimon_created,
            *crm_created,
            *(label if connector_created else []),
            *(main_label if main_created else []),
        ),
        existing=(
            *kafka_existing,
            *cassandra_existing,
            *paimon_existing,
            *crm_existing,
            *([] if connector_created else label),
            *([] if main_created else main_label),
        ),
    )
