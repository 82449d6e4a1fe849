"""One frozen settings object for every flow process, built at the entry point from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from persona.contracts import Topics
from persona.decisions import DEFAULT_CONFIG, LogicV1Config


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise SettingsError(f"{name} must be > 0, got {raw}")
    return value


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value <= 0:
        raise SettingsError(f"{name} must be > 0, got {value}")
    return value


@dataclass(frozen=True, kw_only=True)
class PipelineSettings:
    kafka_bootstrap: str = "127.0.0.1:9092"
    cassandra_hosts: tuple[str, ...] = ("127.0.0.1",)
    cassandra_port: int = 9042
    inventory_keyspace: str = "supply"
    inventory_table: str = "inventory_projection"
    warehouse: str = ".persona/warehouse"
    topics: Topics = field(default_factory=Topics)
    # Paimon commit interval of the sink flow (DESIGN §5, default 10 s); also its Bytewax epoch.
    commit_interval_seconds: float = 10.0
    # Bytewax epoch (snapshot interval) of the enrich flow; None: the commit interval. Its output goes to
    # Kafka as it is decided, not at the epoch's end, so a longer epoch costs no freshness: it means
    # fewer snapshots of every customer's state, more input replayed after a crash, and a coarser
    # durable offset (the lag a monitor reads from the recovery store).
    enrich_epoch_seconds: float | None = None
    inventory_ttl_seconds: float = 5.0
    # How often the enrich flow checks customer_profile for a newer snapshot.
    profile_refresh_seconds: float = 5.0
    # A table-name suffix so tests can point a flow at private copies of the Paimon tables.
    table_suffix: str = ""
    logic: LogicV1Config = DEFAULT_CONFIG
    # Kafka consumer group id prefix; the flows commit offsets under it for lag monitoring only
    # (Bytewax recovery, not the group, decides where a flow resumes).
    group_prefix: str = "persona"
    # The enrich flow keeps customer state in this many shards (customer_id % shards), the unit of
    # its Bytewax state and of its parallelism across workers. Fixed for the life of a recovery store.
    enrich_shards: int = 4
    # The most records one poll of one input partition hands to a flow. A lagging flow gets full
    # polls, and everything a poll's records make stays alive until its outputs are written, so the
    # young GC collections that a large poll triggers walk all of it. Under overload (BENCHMARKS.md,
    # round six) 1,000 decided 36.4k events/s and 5,000 30.7k; a flow that keeps up polls fewer.
    poll_records: int = 1000
    # Where the enrich flow keeps its customers' log, which its Bytewax snapshots only point to
    # (persona.flows.enrich.customer_log); it belongs with the flow's recovery directory. None: each
    # snapshot holds every customer, whose cost grows with the state. The runner (demo, bench) sets it
    # to <recovery dir>/customers.
    enrich_state_dir: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PipelineSettings:
        env = os.environ if env is None else env
        home = Path(env.get("PERSONA_HOME") or ".persona")
        port = _int(env, "PERSONA_KAFKA_PORT", 9092)
        bootstrap = env.get("PERSONA_KAFKA_BOOTSTRAP") or f"127.0.0.1:{port}"
        hosts = tuple(
            h.strip() for h in env.get("PERSONA_CASSANDRA_HOSTS", "127.0.0.1").split(",") if h.strip()
        )
        prefix = env.get("PERSONA_TOPIC_PREFIX", "")
        return cls(
            kafka_bootstrap=bootstrap,
            cassandra_hosts=hosts,
            cassandra_port=_int(env, "PERSONA_CASSANDRA_PORT", 9042),
            inventory_keyspace=env.get("PERSONA_INVENTORY_KEYSPACE", "supply"),
            inventory_table=env.get("PERSONA_INVENTORY_TABLE", "inventory_projection"),
            warehouse=env.get("PERSONA_WAREHOUSE") or str(home / "warehouse"),
            topics=Topics.with_prefix(prefix) if prefix else Topics(),
            commit_interval_seconds=_float(env, "PERSONA_COMMIT_INTERVAL", 10.0),
            enrich_epoch_seconds=_float(env, "PERSONA_ENRICH_EPOCH", 0.0) or None,
            inventory_ttl_seconds=_float(env, "PERSONA_INVENTORY_TTL", 5.0),
            profile_refresh_seconds=_float(env, "PERSONA_PROFILE_REFRESH", 5.0),
            table_suffix=env.get("PERSONA_TABLE_SUFFIX", ""),
            group_prefix=env.get("PERSONA_GROUP_PREFIX", "persona"),
            enrich_shards=_positive_int(env, "PERSONA_ENRICH_SHARDS", 4),
            poll_records=_positive_int(env, "PERSONA_POLL_RECORDS", 1000),
            enrich_state_dir=env.get("PERSONA_ENRICH_STATE_DIR") or None,
        )

    @property
    def brokers(self) -> list[str]:
        return self.kafka_bootstrap.split(",")

    def table(self, name: str) -> str:
        return name + self.table_suffix
