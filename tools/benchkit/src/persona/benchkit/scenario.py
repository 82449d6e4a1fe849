"""A bench run's private scenario: topics ``bench_<tag>_*``, a Cassandra inventory table and a
warehouse under ``$PERSONA_HOME/bench/<tag>``, created for the run, loaded with profiles and
inventory, and removed afterwards; and the environment that points the flows at it."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from persona.benchkit.config import BenchConfig
from persona.contracts import Topics
from persona.datagen import DataGenerator, GeneratorConfig
from persona.datagen.loaders import load_inventory, load_profiles
from persona.inventory import CassandraInventory
from persona.localstack import INVENTORY_COLUMNS_CQL, StackSettings, cassandra_session, create_topic
from persona.paimon import PaimonWarehouse, ensure_tables

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scenario:
    stack: StackSettings
    tag: str

    @classmethod
    def new(cls, stack: StackSettings) -> Scenario:
        return cls(stack, uuid.uuid4().hex[:8])

    @property
    def prefix(self) -> str:
        return f"bench_{self.tag}_"

    @property
    def topics(self) -> Topics:
        return Topics.with_prefix(self.prefix)

    @property
    def scratch_topic(self) -> str:
        """Where the producer-ceiling measurement sends its records."""
        return f"{self.prefix}producer_ceiling"

    @property
    def topic_names(self) -> list[str]:
        return [*self.topics.all_topics(), self.scratch_topic]

    @property
    def base(self) -> Path:
        return self.stack.home / "bench" / self.tag

    @property
    def warehouse_dir(self) -> Path:
        return self.base / "warehouse"

    @property
    def state_dir(self) -> Path:
        """The flows' recovery stores and logs."""
        return self.base / "state"

    @property
    def inventory_table(self) -> str:
        return f"bench_{self.tag}"

    def create(self, admin: Any, partitions: int) -> None:
        topics = self.topics
        for name in self.topic_names:
            config: dict[str, str] = {}
            if name == topics.marketing_segments_rt:
                # The broker stamps arrival time; kept uncompacted so every decision can be read back.
                config = {"message.timestamp.type": "LogAppendTime"}
            elif name in topics.compacted():
                config = {"cleanup.policy": "compact"}
            create_topic(self.stack, name, partitions, config, admin=admin)
        with cassandra_session(self.stack, "supply") as session:
            session.execute(f"CREATE TABLE {self.inventory_table} {INVENTORY_COLUMNS_CQL}")
        ensure_tables(self.warehouse_dir)

    def flow_env(self, cfg: BenchConfig) -> dict[str, str]:
        """The settings the flow processes run with (over the bench's own environment)."""
        return {
            "PERSONA_KAFKA_BOOTSTRAP": self.stack.kafka_bootstrap,
            "PERSONA_CASSANDRA_PORT": str(self.stack.cassandra_contact[1]),
            "PERSONA_TOPIC_PREFIX": self.prefix,
            "PERSONA_WAREHOUSE": str(self.warehouse_dir),
            "PERSONA_INVENTORY_TABLE": self.inventory_table,
            "PERSONA_COMMIT_INTERVAL": str(cfg.commit_interval),
            "PERSONA_ENRICH_EPOCH": str(cfg.enrich_epoch or ""),
            "PERSONA_GROUP_PREFIX": f"bench-{self.tag}",
        }

    def generator_config(self, cfg: BenchConfig) -> GeneratorConfig:
        return GeneratorConfig(
            seed=cfg.seed,
            customers=cfg.customers,
            skus=cfg.skus,
            unsellable_fraction=0.05,
            unknown_fraction=0.10,
            order_fraction=0.05,
            rfm_as_of=dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1),
            run_id=f"-b{self.tag}",
            order_id_base=0,
        )

    def load_stores(self, gen_config: GeneratorConfig) -> dict[str, float]:
        """Profiles into Paimon and inventory into Cassandra: how many of each, in how many seconds."""
        load: dict[str, float] = {}
        gen = DataGenerator(gen_config)
        t = time.monotonic()
        load["profiles"] = load_profiles(gen, PaimonWarehouse(self.warehouse_dir), "customer_profile")
        load["profiles_s"] = time.monotonic() - t
        t = time.monotonic()
        store = self.inventory_store()
        try:
            load["skus"] = load_inventory(gen, store, int(time.time() * 1000))
        finally:
            store.close()
        load["skus_s"] = time.monotonic() - t
        return load

    def kafka_config(self) -> dict[str, str]:
        """The security properties of the bench's own Kafka clients (end offsets, the read-back, the
        floor): they connect as the flows do. The producer process reads its own from its environment."""
        return self.stack.kafka_security.client_config()

    def inventory_store(self) -> CassandraInventory:
        """The run's inventory table, connected with the stack's Cassandra security settings."""
        host, port = self.stack.cassandra_contact
        security = self.stack.cassandra_security
        return CassandraInventory(
            [host],
            port,
            table=self.inventory_table,
            credentials=security.credentials(),
            ssl_context=security.ssl_context(),
        )

    def remove(self, admin: Any, *, keep_files: bool) -> None:
        """Drop the topics and the table; the warehouse and state too unless ``keep_files``."""
        try:
            admin.delete_topics(self.topic_names, missing_ok=True)
            with cassandra_session(self.stack, "supply") as session:
                session.execute(f"DROP TABLE IF EXISTS {self.inventory_table}")
        except Exception as error:  # cleanup must not hide the run's own outcome
            log.warning("cleanup: %s", error)
        if not keep_files:
            shutil.rmtree(self.base, ignore_errors=True)
