"""A run's private world on the shared local stack: topics ``<kind>_<tag>_*``, a Cassandra inventory
table ``<kind>_<tag>`` and a warehouse and flow state under ``$PERSONA_HOME/<kind>/<tag>``, and the
environment that points the flows at them. `persona bench` and `persona chaos` each build theirs on it,
so two runs (or a run and the tests) never touch each other's data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from persona.contracts import Topics
from persona.inventory import CassandraInventory
from persona.localstack.clients import cassandra_session
from persona.localstack.schema import INVENTORY_COLUMNS_CQL
from persona.localstack.settings import StackSettings


@dataclass(frozen=True)
class PrivateWorld:
    stack: StackSettings
    tag: str
    # What the world belongs to ("bench", "chaos"): the first part of every name it makes.
    kind: ClassVar[str] = "private"

    @property
    def prefix(self) -> str:
        return f"{self.kind}_{self.tag}_"

    @property
    def topics(self) -> Topics:
        return Topics.with_prefix(self.prefix)

    @property
    def base(self) -> Path:
        return self.stack.home / self.kind / self.tag

    @property
    def warehouse_dir(self) -> Path:
        return self.base / "warehouse"

    @property
    def state_dir(self) -> Path:
        """The flows' recovery stores and logs."""
        return self.base / "state"

    @property
    def inventory_table(self) -> str:
        return f"{self.kind}_{self.tag}"

    def create_inventory_table(self) -> None:
        with cassandra_session(self.stack, "supply") as session:
            session.execute(f"CREATE TABLE {self.inventory_table} {INVENTORY_COLUMNS_CQL}")

    def drop_inventory_table(self) -> None:
        with cassandra_session(self.stack, "supply") as session:
            session.execute(f"DROP TABLE IF EXISTS {self.inventory_table}")

    def inventory_store(self, request_timeout: float = 2.0) -> CassandraInventory:
        """The world's inventory table, connected with the stack's Cassandra security settings."""
        host, port = self.stack.cassandra_contact
        security = self.stack.cassandra_security
        return CassandraInventory(
            [host],
            port,
            table=self.inventory_table,
            request_timeout=request_timeout,
            credentials=security.credentials(),
            ssl_context=security.ssl_context(),
        )

    def base_flow_env(self, commit_interval: float) -> dict[str, str]:
        """The settings every flow process of the world runs with; a kind adds its own."""
        return {
            "PERSONA_KAFKA_BOOTSTRAP": self.stack.kafka_bootstrap,
            "PERSONA_CASSANDRA_PORT": str(self.stack.cassandra_contact[1]),
            "PERSONA_TOPIC_PREFIX": self.prefix,
            "PERSONA_WAREHOUSE": str(self.warehouse_dir),
            "PERSONA_INVENTORY_TABLE": self.inventory_table,
            "PERSONA_COMMIT_INTERVAL": str(commit_interval),
            "PERSONA_GROUP_PREFIX": f"{self.kind}-{self.tag}",
        }
