"""Every ``PERSONA_*`` environment variable, declared once: parser and validator, default, one-line doc.

``PipelineSettings`` (the flows) and ``persona.localstack.StackSettings`` (the local stack) are built
from these declarations, and the README's configuration table is rendered from them
(``python -m persona.settings.readme``). A variable the code reads must be declared here: a unit test
greps the tree for ``PERSONA_`` names. Longer explanations are in docs/configuration.md.

Nothing here reads the environment: an entry point passes its environment to ``Setting.get``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from persona.settings.setting import (
    Setting,
    at_least,
    heap_size,
    hosts,
    integer,
    log_level,
    number,
    path,
    port,
    positive,
    text,
)

LOCALHOST = "127.0.0.1"
# Cassandra is one of several JVMs on a small dev machine; more heap than this buys nothing locally.
MAX_CASSANDRA_HEAP_MB = 1024

# The local stack: `persona stack`, and the demo, bench and integration tests that bring it up.
HOME = Setting(
    "PERSONA_HOME",
    path,
    Path(".persona"),
    "state, data and logs of the local stack",
    shown_default="`.persona` of the checkout (a flow run by hand: of its working directory)",
)
WAREHOUSE: Setting[str | None] = Setting(
    "PERSONA_WAREHOUSE",
    text,
    None,
    "the Paimon warehouse (a path or a URI)",
    shown_default="`$PERSONA_HOME/warehouse`",
)
KAFKA_PORT = Setting("PERSONA_KAFKA_PORT", port, 9092, f"Kafka listener on {LOCALHOST}")
KAFKA_CONTROLLER_PORT = Setting(
    "PERSONA_KAFKA_CONTROLLER_PORT", port, 9093, f"Kafka's KRaft controller listener on {LOCALHOST}"
)
CASSANDRA_PORT = Setting(
    "PERSONA_CASSANDRA_PORT",
    port,
    9042,
    f"Cassandra native protocol on {LOCALHOST}, and the flows' port for it",
)
CASSANDRA_STORAGE_PORT = Setting(
    "PERSONA_CASSANDRA_STORAGE_PORT", port, 7000, f"Cassandra's storage (inter-node) port on {LOCALHOST}"
)
PARTITIONS = Setting("PERSONA_PARTITIONS", at_least(1), 4, "partitions of every topic `stack init` creates")
KAFKA_HEAP = Setting("PERSONA_KAFKA_HEAP", heap_size(), "512M", "heap of the Kafka JVM (`-Xmx`)")
CASSANDRA_HEAP = Setting(
    "PERSONA_CASSANDRA_HEAP",
    heap_size(at_most_mb=MAX_CASSANDRA_HEAP_MB),
    "768M",
    "heap of the Cassandra JVM (`-Xmx`), at most 1G",
)
JAVA: Setting[str | None] = Setting(
    "PERSONA_JAVA",
    text,
    None,
    "the Java (17 or later) that runs Kafka and Cassandra",
    shown_default="`$JAVA_HOME/bin/java`, else `java` on `PATH`",
)
MVN: Setting[str | None] = Setting(
    "PERSONA_MVN",
    text,
    None,
    "the Maven that resolves the stack's pinned jars",
    shown_default="`mvn` on `PATH`",
)
JAR_CACHE: Setting[Path | None] = Setting(
    "PERSONA_JAR_CACHE",
    path,
    None,
    "where the resolved Kafka and Cassandra classpaths are kept, once per machine",
    shown_default="`$XDG_CACHE_HOME/persona/jars` (`~/.cache/persona/jars`)",
)
MAVEN_REPO: Setting[Path | None] = Setting(
    "PERSONA_MAVEN_REPO",
    path,
    None,
    "Maven's local repository (`-Dmaven.repo.local`)",
    shown_default="Maven's own (`~/.m2/repository`)",
)

# The flows, and the commands that read or write what they use.
KAFKA_BOOTSTRAP: Setting[str | None] = Setting(
    "PERSONA_KAFKA_BOOTSTRAP",
    text,
    None,
    "brokers the flows and the commands use (comma-separated)",
    shown_default="`127.0.0.1:$PERSONA_KAFKA_PORT`",
)
CASSANDRA_HOSTS: Setting[tuple[str, ...]] = Setting(
    "PERSONA_CASSANDRA_HOSTS",
    hosts,
    (LOCALHOST,),
    "Cassandra contact points of the enrich flow (comma-separated)",
)
INVENTORY_KEYSPACE = Setting(
    "PERSONA_INVENTORY_KEYSPACE", text, "supply", "Cassandra keyspace of the inventory projection"
)
INVENTORY_TABLE = Setting(
    "PERSONA_INVENTORY_TABLE", text, "inventory_projection", "Cassandra table of the inventory projection"
)
COMMIT_INTERVAL = Setting(
    "PERSONA_COMMIT_INTERVAL",
    positive(number),
    10.0,
    "seconds between the sink's Paimon commits; the Bytewax epoch (`-s`) of every flow but a set enrich epoch",
    details=True,
)
ENRICH_EPOCH: Setting[float | None] = Setting(
    "PERSONA_ENRICH_EPOCH",
    positive(number),
    None,
    "seconds of the enrich flow's Bytewax epoch (`-s`); a longer one costs no freshness",
    shown_default="the commit interval",
    details=True,
)
ENRICH_STATE_DIR: Setting[str | None] = Setting(
    "PERSONA_ENRICH_STATE_DIR",
    text,
    None,
    "the enrich flow's customer log, which its snapshots name; it stays with the recovery directory",
    shown_default="unset: snapshots hold every customer (`persona demo`/`bench`: `<recovery dir>/customers`)",
    details=True,
)
ENRICH_SHARDS = Setting(
    "PERSONA_ENRICH_SHARDS",
    positive(integer),
    4,
    "customer shards of the enrich flow (its unit of state); fixed for the life of a recovery store",
    details=True,
)
INVENTORY_TTL = Setting(
    "PERSONA_INVENTORY_TTL",
    positive(number),
    5.0,
    "seconds at most the enrich flow's cache serves an inventory read without re-reading it",
    details=True,
)
PROFILE_REFRESH = Setting(
    "PERSONA_PROFILE_REFRESH",
    positive(number),
    5.0,
    "seconds between the enrich flow's checks for a new `customer_profile` snapshot",
)
POLL_RECORDS = Setting(
    "PERSONA_POLL_RECORDS",
    positive(integer),
    1000,
    "the most records one poll of one input partition hands to a flow",
    details=True,
)
GROUP_PREFIX = Setting(
    "PERSONA_GROUP_PREFIX",
    text,
    "persona",
    "prefix of the flows' Kafka consumer groups (offsets committed for lag monitoring only)",
)
TOPIC_PREFIX = Setting(
    "PERSONA_TOPIC_PREFIX", text, "", "prefix of every topic name: a private set of topics (tests, bench)"
)
TABLE_SUFFIX = Setting(
    "PERSONA_TABLE_SUFFIX", text, "", "suffix of every Paimon table name: private tables (tests)"
)

# The flows' Kafka I/O (issue 17): what a flow does when Kafka cannot take or give a record as asked.
OFFSET_RESET_POLICIES = ("earliest", "fail")


def _offset_reset(raw: str) -> str:
    policy = raw.lower()
    if policy not in OFFSET_RESET_POLICIES:
        raise ValueError(f"is not an offset reset policy: {raw!r} (earliest or fail)")
    return policy


OFFSET_RESET = Setting(
    "PERSONA_OFFSET_RESET",
    _offset_reset,
    "earliest",
    "a flow's resume offset out of its partition's log: `earliest` rereads the partition (with a warning), `fail` stops",
    details=True,
)

# Every entry point.
LOG_LEVEL = Setting(
    "PERSONA_LOG_LEVEL",
    log_level,
    "INFO",
    "the least severe log level an entry point writes to stderr (DEBUG, INFO, WARNING, ...)",
)

# The tests.
SHARED: Setting[Path | None] = Setting(
    "PERSONA_SHARED",
    path,
    None,
    "the shared directory that holds the golden replay scenario the unit tests check",
    shown_default="`../shared` beside the checkout",
)

# In declaration order, which is the README table's.
SETTINGS: tuple[Setting[Any], ...] = tuple(v for v in dict(globals()).values() if isinstance(v, Setting))


def local_bootstrap(kafka_port: int) -> str:
    """The bootstrap address of a Kafka listening on this machine at ``kafka_port``."""
    return f"{LOCALHOST}:{kafka_port}"


def default_warehouse(home: Path) -> Path:
    """Where the Paimon warehouse is when ``PERSONA_WAREHOUSE`` is not set."""
    return home / "warehouse"
