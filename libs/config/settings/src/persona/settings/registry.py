"""Every ``PERSONA_*`` environment variable, declared once: parser and validator, default, one-line doc.

``PipelineSettings`` (the flows) and ``persona.localstack.StackSettings`` (the local stack) are built
from these declarations, and the README's configuration table is rendered from them
(``python -m persona.settings.readme``). A variable the code reads must be declared here: a unit test
greps the tree for ``PERSONA_`` names. Longer explanations are in docs/configuration.md.

Nothing here reads the environment: an entry point passes its environment to ``Setting.get``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from persona.contracts import DEFAULT_TIME_WINDOW, TimeWindow, time_to_ms
from persona.settings.secret import Secret, secret
from persona.settings.setting import (
    Setting,
    at_least,
    cluster_addresses,
    heap_size,
    hosts,
    integer,
    log_level,
    number,
    one_of,
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
MARIADB_PORT = Setting(
    "PERSONA_MARIADB_PORT",
    port,
    3306,
    f"the local CRM's MariaDB on {LOCALHOST}, and the port the CRM clients use",
)
CONNECT_PORT = Setting(
    "PERSONA_CONNECT_PORT", port, 8083, f"the local Kafka Connect worker's REST API on {LOCALHOST} (Debezium)"
)
CONNECT_HEAP = Setting("PERSONA_CONNECT_HEAP", heap_size(), "384M", "heap of the Kafka Connect JVM (`-Xmx`)")
MARIADBD: Setting[str | None] = Setting(
    "PERSONA_MARIADBD",
    text,
    None,
    "the MariaDB server binary (Debian's `mariadb-server`, which `./dev` installs when missing)",
    shown_default="`mariadbd` on `PATH` or in `/usr/sbin`",
)
PROMETHEUS_PORT = Setting(
    "PERSONA_PROMETHEUS_PORT",
    port,
    9090,
    f"the local Prometheus (metrics, alert rules) on {LOCALHOST}: its UI and HTTP API",
)
PROMETHEUS: Setting[str | None] = Setting(
    "PERSONA_PROMETHEUS",
    text,
    None,
    "the Prometheus server binary (Debian's `prometheus`, which `./dev` installs when missing)",
    shown_default="`prometheus` on `PATH`",
)
CONSOLE_PORT = Setting(
    "PERSONA_CONSOLE_PORT",
    port,
    8050,
    f"`persona console` (the web console, also started by the demo) on {LOCALHOST}",
)
CONSOLE_HOST = Setting(
    "PERSONA_CONSOLE_HOST",
    text,
    LOCALHOST,
    "the address `persona console` listens on (no login: loopback unless a NetworkPolicy guards it)",
)
PROMETHEUS_URL: Setting[str | None] = Setting(
    "PERSONA_PROMETHEUS_URL",
    text,
    None,
    "the Prometheus whose HTTP API the console reads",
    shown_default=f"`http://{LOCALHOST}:$PERSONA_PROMETHEUS_PORT` (the local stack's)",
)
CHROMIUM: Setting[str | None] = Setting(
    "PERSONA_CHROMIUM",
    text,
    None,
    "the Chromium the console's browser test drives (Debian's `chromium`, which `./dev` installs when missing)",
    shown_default="`chromium` on `PATH`",
)
MAVEN_REPO: Setting[Path | None] = Setting(
    "PERSONA_MAVEN_REPO",
    path,
    None,
    "Maven's local repository (`-Dmaven.repo.local`)",
    shown_default="Maven's own (`~/.m2/repository`)",
)
# The catalog's version history (Nessie) and the object store of the Iceberg publication (s3proxy
# locally, S3 in production), DESIGN §6.
NESSIE_PORT = Setting(
    "PERSONA_NESSIE_PORT",
    port,
    19120,
    f"the local Nessie server (REST API, Iceberg REST catalog) on {LOCALHOST}",
)
NESSIE_HEAP = Setting("PERSONA_NESSIE_HEAP", heap_size(), "512M", "heap of the Nessie JVM (`-Xmx`)")
ICEBERG_REST_PORT = Setting(
    "PERSONA_ICEBERG_REST_PORT",
    port,
    8181,
    f"the local history catalog (Apache Iceberg's REST catalog server: every publication's snapshots and tags) on {LOCALHOST}",
)
ICEBERG_REST_URL: Setting[str | None] = Setting(
    "PERSONA_ICEBERG_REST_URL",
    text,
    None,
    "the history catalog the publication also writes main into (an Iceberg REST catalog keeping snapshots and tags)",
    shown_default=f"`http://{LOCALHOST}:$PERSONA_ICEBERG_REST_PORT` (the local stack's)",
)
HISTORY_CATALOG = Setting(
    "PERSONA_HISTORY_CATALOG",
    one_of("on", "off"),
    "on",
    "`off`: the publication writes Nessie only (no snapshot history for `FOR VERSION/TIMESTAMP AS OF`)",
)
S3_PORT = Setting("PERSONA_S3_PORT", port, 9000, f"the local S3 endpoint (s3proxy) on {LOCALHOST}")
S3_ACCESS_KEY = Setting(
    "PERSONA_S3_ACCESS_KEY",
    text,
    "persona",
    "the S3 access key id of the local object store (s3proxy's identity); the default is local only",
)
S3_SECRET_KEY = Setting(
    "PERSONA_S3_SECRET_KEY",
    secret,
    Secret("persona-local-secret"),
    "the S3 secret key of the local object store (never logged); the default is for the local stack only",
    shown_default="`persona-local-secret`",
)
# The Iceberg publication into Nessie (`persona publish`, README "The Iceberg publication").
NESSIE_URL: Setting[str | None] = Setting(
    "PERSONA_NESSIE_URL",
    text,
    None,
    "the Nessie server the publication and `persona logic` use (its root: `/api/v2` and `/iceberg` under it)",
    shown_default=f"`http://{LOCALHOST}:$PERSONA_NESSIE_PORT` (the local stack's)",
)
S3_ENDPOINT: Setting[str | None] = Setting(
    "PERSONA_S3_ENDPOINT",
    text,
    None,
    "the S3 endpoint of the Iceberg publication's data files (path-style; credentials: PERSONA_S3_ACCESS_KEY/_SECRET_KEY)",
    shown_default=f"`http://{LOCALHOST}:$PERSONA_S3_PORT` (the local stack's s3proxy)",
)
NESSIE_REF_PREFIX = Setting(
    "PERSONA_NESSIE_REF_PREFIX",
    text,
    "",
    "prefix of every Nessie branch and tag persona makes (Paimon's main: `<prefix>main`): private ones (tests)",
)
PUBLICATION = Setting(
    "PERSONA_PUBLICATION",
    one_of("on", "off"),
    "on",
    "`off`: no Iceberg publication into Nessie: `persona logic`, `rfm run` and `erase` do their Paimon part only",
)
TRINO_PORT = Setting(
    "PERSONA_TRINO_PORT", port, 8080, f"the local Trino coordinator (`stack up --with trino`) on {LOCALHOST}"
)
# Small on purpose: one coordinator-worker over tables of a few hundred thousand rows, on a 2-core
# machine shared with the rest of the stack; a query gets 30 % of it (Trino's default share).
TRINO_HEAP = Setting("PERSONA_TRINO_HEAP", heap_size(), "1G", "heap of the Trino JVM (`-Xmx`)")
JAVA25: Setting[str | None] = Setting(
    "PERSONA_JAVA25",
    text,
    None,
    "the Java 25 that runs Nessie (needs 21+) and Trino (needs 24+)",
    shown_default="the newest `/usr/lib/jvm/*-25*` JDK, else `$PERSONA_JAVA` when it is 25+",
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
ENRICH_MAX_CUSTOMERS = Setting(
    "PERSONA_ENRICH_MAX_CUSTOMERS",
    at_least(0),
    500_000,
    "customers an enrich shard keeps in memory (0: no bound); the least recently active wait on disk",
    details=True,
)
ENRICH_SHARDS = Setting(
    "PERSONA_ENRICH_SHARDS",
    positive(integer),
    4,
    "customer shards of the enrich flow (its unit of state); fixed for the life of a recovery store",
    details=True,
)
ENRICH_ADDRESSES: Setting[tuple[str, ...] | None] = Setting(
    "PERSONA_ENRICH_ADDRESSES",
    cluster_addresses,
    None,
    "`host:port` of every process of the enrich flow's Bytewax cluster, `;`-separated, in process-id order",
    shown_default="unset: one process",
    details=True,
)
ENRICH_PROCESS_ID: Setting[int | None] = Setting(
    "PERSONA_ENRICH_PROCESS_ID",
    at_least(0),
    None,
    "this enrich process's index in `PERSONA_ENRICH_ADDRESSES`",
    shown_default="the hostname's trailing ordinal (StatefulSet pod `enrich-2`: 2)",
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

# The CRM (MariaDB locally): `persona crm`, the demo's order writes, the RFM job and Debezium's user.
CRM_HOST = Setting(
    "PERSONA_CRM_HOST", text, LOCALHOST, "host of the CRM database (port: PERSONA_MARIADB_PORT)"
)
CRM_DATABASE = Setting(
    "PERSONA_CRM_DATABASE", text, "crm", "the CRM database holding `customers` and `orders`"
)
CRM_USER = Setting(
    "PERSONA_CRM_USER",
    text,
    "persona",
    "the CRM user of persona's tools: read/write on the CRM database only",
)
CRM_PASSWORD = Setting(
    "PERSONA_CRM_PASSWORD",
    secret,
    Secret("persona"),
    "the CRM user's password (never logged); the default is for the local stack only",
    shown_default="`persona`",
)
CDC_USER = Setting(
    "PERSONA_CDC_USER",
    text,
    "persona_cdc",
    "the CRM user Debezium reads the binlog as: replication grants only",
)
CDC_PASSWORD = Setting(
    "PERSONA_CDC_PASSWORD",
    secret,
    Secret("persona_cdc"),
    "the CDC user's password (never logged); the default is for the local stack only",
    shown_default="`persona_cdc`",
)

# Client security: every Kafka and Cassandra client persona builds (flows and tools). Secrets come
# from the environment or from files and are never logged (docs/security.md).
KAFKA_SECURITY_PROTOCOL: Setting[str | None] = Setting(
    "PERSONA_KAFKA_SECURITY_PROTOCOL",
    one_of("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
    None,
    "how Kafka clients connect: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    shown_default="`PLAINTEXT` (or the config file's `security.protocol`)",
)
KAFKA_SASL_MECHANISM: Setting[str | None] = Setting(
    "PERSONA_KAFKA_SASL_MECHANISM",
    one_of("SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"),
    None,
    "the SASL mechanism with a SASL_* protocol: SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN",
    shown_default="`SCRAM-SHA-512` with a SASL protocol",
)
KAFKA_SASL_USERNAME: Setting[str | None] = Setting(
    "PERSONA_KAFKA_SASL_USERNAME", text, None, "the SASL user of every Kafka client", shown_default="unset"
)
KAFKA_SASL_PASSWORD: Setting[Secret | None] = Setting(
    "PERSONA_KAFKA_SASL_PASSWORD",
    secret,
    None,
    "the SASL password (never logged); or PERSONA_KAFKA_SASL_PASSWORD_FILE",
    shown_default="unset",
)
KAFKA_SASL_PASSWORD_FILE: Setting[Path | None] = Setting(
    "PERSONA_KAFKA_SASL_PASSWORD_FILE",
    path,
    None,
    "a file holding the SASL password (a mounted secret), instead of PERSONA_KAFKA_SASL_PASSWORD",
    shown_default="unset",
)
KAFKA_SSL_CA_LOCATION: Setting[Path | None] = Setting(
    "PERSONA_KAFKA_SSL_CA_LOCATION",
    path,
    None,
    "PEM CA certificate(s) that verify the brokers (SSL, SASL_SSL)",
    shown_default="the system's CAs",
)
KAFKA_SSL_CERT_LOCATION: Setting[Path | None] = Setting(
    "PERSONA_KAFKA_SSL_CERT_LOCATION",
    path,
    None,
    "PEM client certificate, for brokers that require one (with PERSONA_KAFKA_SSL_KEY_LOCATION)",
    shown_default="unset",
)
KAFKA_SSL_KEY_LOCATION: Setting[Path | None] = Setting(
    "PERSONA_KAFKA_SSL_KEY_LOCATION",
    path,
    None,
    "PEM private key of the client certificate",
    shown_default="unset",
)
KAFKA_CONFIG_FILE: Setting[Path | None] = Setting(
    "PERSONA_KAFKA_CONFIG_FILE",
    path,
    None,
    "librdkafka properties (`key=value` lines) for every Kafka client, under the settings above",
    shown_default="unset",
    details=True,
)
CASSANDRA_USERNAME: Setting[str | None] = Setting(
    "PERSONA_CASSANDRA_USERNAME",
    text,
    None,
    "Cassandra user (PasswordAuthenticator) of every Cassandra client",
    shown_default="unset: no authentication",
)
CASSANDRA_PASSWORD: Setting[Secret | None] = Setting(
    "PERSONA_CASSANDRA_PASSWORD",
    secret,
    None,
    "the Cassandra password (never logged); or PERSONA_CASSANDRA_PASSWORD_FILE",
    shown_default="unset",
)
CASSANDRA_PASSWORD_FILE: Setting[Path | None] = Setting(
    "PERSONA_CASSANDRA_PASSWORD_FILE",
    path,
    None,
    "a file holding the Cassandra password, instead of PERSONA_CASSANDRA_PASSWORD",
    shown_default="unset",
)
CASSANDRA_SSL_CA: Setting[Path | None] = Setting(
    "PERSONA_CASSANDRA_SSL_CA",
    path,
    None,
    "PEM CA certificate that verifies Cassandra's certificate and address; set, the clients use TLS",
    shown_default="unset: no TLS",
)
CASSANDRA_SSL_CERT: Setting[Path | None] = Setting(
    "PERSONA_CASSANDRA_SSL_CERT",
    path,
    None,
    "PEM client certificate, for a node that requires one (with PERSONA_CASSANDRA_SSL_KEY)",
    shown_default="unset",
)
CASSANDRA_SSL_KEY: Setting[Path | None] = Setting(
    "PERSONA_CASSANDRA_SSL_KEY",
    path,
    None,
    "PEM private key of the client certificate",
    shown_default="unset",
)


# Input rules (issue 17): the plausibility window of event and order times (persona.contracts.rules).
def _iso_time(raw: str) -> str:
    try:
        time_to_ms(raw)
    except ValueError:
        raise ValueError(f"is not an ISO-8601 time with Z or an offset: {raw!r}") from None
    return raw


def _max_ahead_seconds(raw: str) -> float:
    value = number(raw)
    if not 0 <= value <= 10 * 365 * 86_400:
        raise ValueError(f"must be 0 to 10 years in seconds, got {raw}")
    return value


TIME_MIN = Setting(
    "PERSONA_TIME_MIN",
    _iso_time,
    "2000-01-01T00:00:00Z",
    "earliest plausible event/order time (ISO-8601); earlier ones go to the DLQ as `implausible_time`",
    details=True,
)
TIME_MAX_AHEAD = Setting(
    "PERSONA_TIME_MAX_AHEAD",
    _max_ahead_seconds,
    DEFAULT_TIME_WINDOW.max_ahead_ms / 1000,
    "seconds an event/order time may lie ahead of the wall clock; later ones go to the DLQ as `implausible_time`",
    details=True,
)


def time_window(env: Mapping[str, str]) -> TimeWindow:
    """The plausibility window ``PERSONA_TIME_MIN`` and ``PERSONA_TIME_MAX_AHEAD`` set."""
    return TimeWindow(time_to_ms(TIME_MIN.get(env)), round(TIME_MAX_AHEAD.get(env) * 1000))


# `persona run`: one supervised flow (docs/configuration.md, "Supervision").
RESTART_MAX = Setting(
    "PERSONA_RESTART_MAX",
    positive(integer),
    5,
    "failures of a flow within the restart window after which `persona run` gives up and exits 1",
    details=True,
)
RESTART_WINDOW = Setting(
    "PERSONA_RESTART_WINDOW",
    positive(number),
    300.0,
    "seconds of the restart window; a run that stayed up longer than this clears the failure count",
    details=True,
)
RESTART_DELAY = Setting(
    "PERSONA_RESTART_DELAY",
    positive(number),
    1.0,
    "seconds `persona run` waits before the first restart; doubled by every further failure in the window",
)
RESTART_MAX_DELAY = Setting(
    "PERSONA_RESTART_MAX_DELAY",
    positive(number),
    60.0,
    "the longest wait between two restarts, in seconds",
)
WAIT_TIMEOUT: Setting[float | None] = Setting(
    "PERSONA_WAIT_TIMEOUT",
    positive(number),
    None,
    "seconds `persona run` waits for Kafka (and Cassandra, for enrich) to answer before it gives up",
    shown_default="unset: forever, with a log line every 5 s",
    details=True,
)
STOP_TIMEOUT = Setting(
    "PERSONA_STOP_TIMEOUT",
    positive(number),
    20.0,
    "seconds a flow being stopped gets to end its epoch before it is killed",
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


# A flow's metrics and health endpoint (issue 20; README "Metrics").
def _metrics_port(raw: str) -> int:
    value = integer(raw)
    if not 0 <= value < 65536:
        raise ValueError(f"is out of range: {value} (a TCP port 1 to 65535, or 0 for none)")
    return value


METRICS_PORT = Setting(
    "PERSONA_METRICS_PORT",
    _metrics_port,
    9464,
    "the port a flow serves `/metrics`, `/healthz`, `/readyz` on (0: none); flows started locally: cdc's, enrich +1, sink +2",
)
METRICS_HOST = Setting(
    "PERSONA_METRICS_HOST",
    text,
    "0.0.0.0",
    "the address a flow's metrics and health endpoint listens on (a pod's probes need every interface)",
    shown_default="`0.0.0.0`; flows started by `persona demo`/`bench` and the tests: `127.0.0.1`",
    details=True,
)
METRICS = Setting(
    "PERSONA_METRICS",
    one_of("on", "off"),
    "on",
    "`off`: a flow records no metrics (`/metrics` is empty, health is still served): the overhead bench's switch",
    details=True,
)
READY_MAX_LAG = Setting(
    "PERSONA_READY_MAX_LAG",
    at_least(0),
    5000,
    "the consumer lag (records, on every input partition) at or below which a flow's `/readyz` says ready",
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
