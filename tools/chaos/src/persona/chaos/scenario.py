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
from typing import Any, ClassVar

from persona.chaos.inputs import MAX_INPUT_RECORD_BYTES, ChaosInput
from persona.datagen.loaders import load_inventory, load_profiles
from persona.kafka import topic_configs
from persona.localstack import StackSettings, create_topic
from persona.localstack.private_world import PrivateWorld
from persona.paimon import PaimonWarehouse, ensure_tables

log = logging.getLogger(__name__)

PARTITIONS = 2
COMMIT_INTERVAL_S = 1


@dataclass(frozen=True)
class ChaosScenario(PrivateWorld):
    kind: ClassVar[str] = "chaos"
    # The warehouse on a size-limited tmpfs of this many MiB (the disk-full row); None: a directory.
    tmpfs_mib: int | None = None

    @classmethod
    def new(cls, stack: StackSettings, row: str, tmpfs_mib: int | None = None) -> ChaosScenario:
        return cls(stack, f"{row.replace('-', '_')[:12]}_{uuid.uuid4().hex[:6]}", tmpfs_mib)

    @property
    def input_dir(self) -> Path:
        return self.base / "input"

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
        self.create_inventory_table()
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
        # A short cache, so decisions see Cassandra's return within a second or so.
        return {**self.base_flow_env(COMMIT_INTERVAL_S), "PERSONA_INVENTORY_TTL": "1"}

    def load_stores(self, data: ChaosInput) -> None:
        """Profiles into Paimon, inventory into Cassandra: fixed for the row, as replay's files."""
        load_profiles(data.generator, PaimonWarehouse(self.warehouse_dir), "customer_profile")
        store = self.inventory_store()
        try:
            load_inventory(data.generator, store, int(time.time() * 1000))
        finally:
            store.close()

    def remove(self, admin: Any, *, keep_files: bool) -> None:
        try:
            admin.delete_topics(list(topic_configs(self.topics)), missing_ok=True)
            self.drop_inventory_table()
        except Exception as error:  # cleanup must not hide the row's own outcome
            log.warning("cleanup of %s: %s", self.tag, error)
        if self.tmpfs_mib is not None:
            subprocess.run(["umount", "-l", str(self.warehouse_dir)], check=False, capture_output=True)
        if not keep_files:
            shutil.rmtree(self.base, ignore_errors=True)
