"""A chaos row's private world: topics ``chaos_<tag>_*``, a Cassandra inventory table and a
warehouse and flow state under ``$PERSONA_HOME/chaos/<tag>``, created for the row and removed after
it; and the environment that points the flows at them."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from persona.chaos.inputs import MAX_INPUT_RECORD_BYTES, ChaosInput
from persona.contracts import Topics
from persona.datagen.loaders import load_inventory, load_profiles
from persona.inventory import CassandraInventory
from persona.kafka import topic_configs
from persona.localstack import INVENTORY_COLUMNS_CQL, StackSettings, cassandra_session, create_topic
from persona.paimon import PaimonWarehouse, ensure_tables

log = logging.getLogger(__name__)

PARTITIONS = 2
COMMIT_INTERVAL_S = 1


@dataclass(frozen=True)
class ChaosScenario:
    stack: StackSettings
    tag: str
    # The warehouse on a size-limited tmpfs of this many MiB (the disk-full row); None: a directory.
    tmpfs_mib: int | None = None

    @classmethod
    def new(cls, stack: StackSettings, row: str, tmpfs_mib: int | None = None) -> ChaosScenario:
        return cls(stack, f"{row.replace('-', '_')[:12]}_{uuid.uuid4().hex[:6]}", tmpfs_mib)

    @property
    def prefix(self) -> str:
        return f"chaos_{self.tag}_"

    @property
    def topics(self) -> Topics:
        return Topics.with_prefix(self.prefix)

    @property
    def base(self) -> Path:
        return self.stack.home / "chaos" / self.tag

    @property
    def warehouse_dir(self) -> Path:
        return self.base / "warehouse"

    @property
    def state_dir(self) -> Path:
        return self.base / "state"

    @property
    def input_dir(self) -> Path:
        return self.base / "input"

    @property
    def inventory_table(self) -> str:
        return f"chaos_{self.tag}"

    def create(self, admin: Any) -> None:
        inputs = {self.topics.behavior_events, self.topics.orders_cdc}
        for name, config in topic_configs(self.topics).items():
            if name in inputs:
                # Large records reach the flows (the poison row's 2 MB one), as on a cluster that
                # allows them: the flows must reject them, not rely on the broker's default limit.
                config = {**config, "max.message.bytes": str(MAX_INPUT_RECORD_BYTES)}
            if name == self.topics.marketing_segments_rt:
                # Every version of every decision stays readable (no compaction), stamped with the
                # broker's arrival time (the recovery time is read from it).
                config = {"message.timestamp.type": "LogAppendTime"}
            create_topic(self.stack, name, PARTITIONS, config, admin=admin)
        with cassandra_session(self.stack, "supply") as session:
            session.execute(f"CREATE TABLE {self.inventory_table} {INVENTORY_COLUMNS_CQL}")
        self.warehouse_dir.mkdir(parents=True, exist_ok=True)
        if self.tmpfs_mib is not None:
            subprocess.run(
                [
                    "mount",
                    "-t",
                    "tmpfs",
                    "-o",
                    f"size={self.tmpfs_mib}m,mode=0700",
                    "tmpfs",
                    str(self.warehouse_dir),
                ],
                check=True,
                capture_output=True,
            )
        ensure_tables(self.warehouse_dir)

    def flow_env(self) -> dict[str, str]:
        return {
            "PERSONA_KAFKA_BOOTSTRAP": self.stack.kafka_bootstrap,
            "PERSONA_CASSANDRA_PORT": str(self.stack.cassandra_contact[1]),
            "PERSONA_TOPIC_PREFIX": self.prefix,
            "PERSONA_WAREHOUSE": str(self.warehouse_dir),
            "PERSONA_INVENTORY_TABLE": self.inventory_table,
            "PERSONA_COMMIT_INTERVAL": str(COMMIT_INTERVAL_S),
            # A short cache, so decisions see Cassandra's return within a second or so.
            "PERSONA_INVENTORY_TTL": "1",
            "PERSONA_GROUP_PREFIX": f"chaos-{self.tag}",
        }

    def load_stores(self, data: ChaosInput) -> None:
        """Profiles into Paimon, inventory into Cassandra: fixed for the row, as replay's files."""
        load_profiles(data.generator, PaimonWarehouse(self.warehouse_dir), "customer_profile")
        host, port = self.stack.cassandra_contact
        security = self.stack.cassandra_security
        store = CassandraInventory(
            [host],
            port,
            table=self.inventory_table,
            credentials=security.credentials(),
            ssl_context=security.ssl_context(),
        )
        try:
            load_inventory(data.generator, store, int(time.time() * 1000))
        finally:
            store.close()

    def remove(self, admin: Any, *, keep_files: bool) -> None:
        try:
            admin.delete_topics(list(topic_configs(self.topics)), missing_ok=True)
            with cassandra_session(self.stack, "supply") as session:
                session.execute(f"DROP TABLE IF EXISTS {self.inventory_table}")
        except Exception as error:  # cleanup must not hide the row's own outcome
            log.warning("cleanup of %s: %s", self.tag, error)
        if self.tmpfs_mib is not None:
            subprocess.run(["umount", "-l", str(self.warehouse_dir)], check=False, capture_output=True)
        if not keep_files:
            shutil.rmtree(self.base, ignore_errors=True)
