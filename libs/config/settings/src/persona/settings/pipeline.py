"""One frozen settings object for every flow process, built at the entry point from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from persona.contracts import DEFAULT_TIME_WINDOW, TimeWindow, Topics
from persona.decisions import DEFAULT_CONFIG, LogicV1Config
from persona.settings.registry import (
    CASSANDRA_HOSTS,
    CASSANDRA_PORT,
    COMMIT_INTERVAL,
    ENRICH_EPOCH,
    ENRICH_MAX_CUSTOMERS,
    ENRICH_SHARDS,
    ENRICH_STATE_DIR,
    GROUP_PREFIX,
    HOME,
    INVENTORY_KEYSPACE,
    INVENTORY_TABLE,
    INVENTORY_TTL,
    KAFKA_BOOTSTRAP,
    KAFKA_PORT,
    METRICS,
    METRICS_HOST,
    METRICS_PORT,
    OFFSET_RESET,
    POLL_RECORDS,
    PROFILE_REFRESH,
    READY_MAX_LAG,
    TABLE_SUFFIX,
    TOPIC_PREFIX,
    WAREHOUSE,
    default_warehouse,
    local_bootstrap,
    time_window,
)
from persona.settings.security import CassandraSecurity, KafkaSecurity


@dataclass(frozen=True, kw_only=True)
class PipelineSettings:
    """What a flow needs. Each field is a registry setting (``persona.settings.registry`` documents
    it) and defaults to that setting's default; :meth:`from_env` reads them at the entry point."""

    kafka_bootstrap: str = local_bootstrap(KAFKA_PORT.default)
    cassandra_hosts: tuple[str, ...] = CASSANDRA_HOSTS.default
    cassandra_port: int = CASSANDRA_PORT.default
    inventory_keyspace: str = INVENTORY_KEYSPACE.default
    inventory_table: str = INVENTORY_TABLE.default
    warehouse: str = str(default_warehouse(HOME.default))
    # Named with PERSONA_TOPIC_PREFIX.
    topics: Topics = field(default_factory=Topics)
    commit_interval_seconds: float = COMMIT_INTERVAL.default
    # None: the commit interval.
    enrich_epoch_seconds: float | None = ENRICH_EPOCH.default
    inventory_ttl_seconds: float = INVENTORY_TTL.default
    profile_refresh_seconds: float = PROFILE_REFRESH.default
    table_suffix: str = TABLE_SUFFIX.default
    logic: LogicV1Config = DEFAULT_CONFIG
    group_prefix: str = GROUP_PREFIX.default
    enrich_shards: int = ENRICH_SHARDS.default
    poll_records: int = POLL_RECORDS.default
    # None: no customer log, each snapshot holds every customer.
    enrich_state_dir: str | None = ENRICH_STATE_DIR.default
    # Per shard; needs the customer log (enrich_state_dir): evicted customers are rebuilt from disk.
    enrich_max_customers: int = ENRICH_MAX_CUSTOMERS.default
    # Given to every Kafka and Cassandra client the flow builds; secrets stay redacted in repr.
    kafka_security: KafkaSecurity = field(default_factory=KafkaSecurity)
    cassandra_security: CassandraSecurity = field(default_factory=CassandraSecurity)
    # PERSONA_TIME_MIN, PERSONA_TIME_MAX_AHEAD: the input rule implausible_time.
    time_window: TimeWindow = DEFAULT_TIME_WINDOW
    offset_reset: str = OFFSET_RESET.default
    # The flow's /metrics, /healthz and /readyz (0: none), and whether it records metrics at all.
    metrics_port: int = METRICS_PORT.default
    metrics_host: str = METRICS_HOST.default
    metrics_enabled: bool = True
    ready_max_lag: int = READY_MAX_LAG.default

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PipelineSettings:
        """Read every flow setting from ``env`` (default: this process's environment) once, at the
        entry point; raises :class:`~persona.settings.SettingsError` naming a malformed variable."""
        env = os.environ if env is None else env
        prefix = TOPIC_PREFIX.get(env)
        return cls(
            kafka_bootstrap=KAFKA_BOOTSTRAP.given(env) or local_bootstrap(KAFKA_PORT.get(env)),
            cassandra_hosts=CASSANDRA_HOSTS.get(env),
            cassandra_port=CASSANDRA_PORT.get(env),
            inventory_keyspace=INVENTORY_KEYSPACE.get(env),
            inventory_table=INVENTORY_TABLE.get(env),
            warehouse=WAREHOUSE.given(env) or str(default_warehouse(HOME.get(env))),
            topics=Topics.with_prefix(prefix) if prefix else Topics(),
            commit_interval_seconds=COMMIT_INTERVAL.get(env),
            enrich_epoch_seconds=ENRICH_EPOCH.get(env),
            inventory_ttl_seconds=INVENTORY_TTL.get(env),
            profile_refresh_seconds=PROFILE_REFRESH.get(env),
            table_suffix=TABLE_SUFFIX.get(env),
            group_prefix=GROUP_PREFIX.get(env),
            enrich_shards=ENRICH_SHARDS.get(env),
            poll_records=POLL_RECORDS.get(env),
            enrich_state_dir=ENRICH_STATE_DIR.get(env),
            enrich_max_customers=ENRICH_MAX_CUSTOMERS.get(env),
            kafka_security=KafkaSecurity.from_env(env),
            cassandra_security=CassandraSecurity.from_env(env),
            time_window=time_window(env),
            offset_reset=OFFSET_RESET.get(env),
            metrics_port=METRICS_PORT.get(env),
            metrics_host=METRICS_HOST.get(env),
            metrics_enabled=METRICS.get(env) == "on",
            ready_max_lag=READY_MAX_LAG.get(env),
        )

    @property
    def brokers(self) -> list[str]:
        return self.kafka_bootstrap.split(",")

    def table(self, name: str) -> str:
        return name + self.table_suffix
