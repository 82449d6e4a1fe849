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
from typing import Any, ClassVar

from persona.benchkit.config import BenchConfig
from persona.datagen import DataGenerator, GeneratorConfig
from persona.datagen.loaders import load_inventory, load_profiles
from persona.localstack import StackSettings, create_topic
from persona.localstack.private_world import PrivateWorld
from persona.paimon import PaimonWarehouse, ensure_tables

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scenario(PrivateWorld):
    kind: ClassVar[str] = "bench"

    @classmethod
    def new(cls, stack: StackSettings) -> Scenario:
        return cls(stack, uuid.uuid4().hex[:8])

    @property
    def scratch_topic(self) -> str:
        """Where the producer-ceiling measurement sends its records."""
        return f"{self.prefix}producer_ceiling"

    @property
    def topic_names(self) -> list[str]:
        return [*self.topics.all_topics(), self.scratch_topic]

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
        self.create_inventory_table()
        ensure_tables(self.warehouse_dir)

    def flow_env(self, cfg: BenchConfig) -> dict[str, str]:
        """The settings the flow processes run with (over the bench's own environment)."""
        return {
            **self.base_flow_env(cfg.commit_interval),
            "PERSONA_ENRICH_EPOCH": str(cfg.enrich_epoch or ""),
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
        # Set-up, not measured: on a machine busy with other work Cassandra can take longer than the
        # flows' 2 s per write while it loads.
        store = self.inventory_store(request_timeout=30.0)
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

    def remove(self, admin: Any, *, keep_files: bool) -> None:
        """Drop the topics and the table; the warehouse and state too unless ``keep_files``."""
        try:
            admin.delete_topics(self.topic_names, missing_ok=True)
            self.drop_inventory_table()
        except Exception as error:  # cleanup must not hide the run's own outcome
            log.warning("cleanup: %s", error)
        if not keep_files:
            shutil.rmtree(self.base, ignore_errors=True)
