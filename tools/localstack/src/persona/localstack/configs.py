"""Pure rendering of the services' configuration files and JVM command lines (no I/O here)."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from pathlib import Path

from persona.localstack.settings import StackSettings
from persona.settings.registry import LOCALHOST

KAFKA_MAIN_CLASS = "kafka.Kafka"
# Kafka 4.1 still ships the storage formatter in the core (Scala) jar, as bin/kafka-storage.sh does.
KAFKA_STORAGE_TOOL_CLASS = "kafka.tools.StorageTool"
CASSANDRA_MAIN_CLASS = "org.apache.cassandra.service.CassandraDaemon"
KAFKA_NODE_ID = 1
# Fixed (not settings.partitions): internal topic layouts can never change once created, and a local
# node gains nothing from Kafka's default of 50 partitions each, which only slows the first group join.
KAFKA_INTERNAL_TOPIC_PARTITIONS = 4

# From Cassandra 5.0 conf/jvm17-server.options ("JPMS" section): Cassandra reaches into JDK internals
# (jamm object sizing, off-heap memory, direct buffers, the security manager) and fails on Java 17
# without these.
CASSANDRA_JVM17_MODULE_FLAGS: tuple[str, ...] = (
    "-Djdk.attach.allowAttachSelf=true",
    "--add-exports",
    "java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports",
    "java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
    "--add-exports",
    "java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports",
    "java.rmi/sun.rmi.server=ALL-UNNAMED",
    "--add-exports",
    "java.sql/java.sql=ALL-UNNAMED",
    "--add-exports",
    "java.base/java.lang.ref=ALL-UNNAMED",
    "--add-exports",
    "jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-exports",
    "jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-exports",
    "jdk.attach/sun.tools.attach=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.lang.module=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.loader=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.reflect=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.math=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.module=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.util.jar=ALL-UNNAMED",
    "--add-opens",
    "jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens",
    "java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.io=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens",
    "jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.lang=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.util=ALL-UNNAMED",
)


def new_kafka_cluster_id() -> str:
    """A KRaft cluster id in Kafka's own format: 16 random bytes, URL-safe base64 without padding.

    Like Kafka's Uuid.randomUuid, ids starting with '-' are avoided because they read as options on a
    command line.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def render_kafka_properties(settings: StackSettings) -> str:
    """server.properties of the single combined broker+controller KRaft node."""
    data_dir = settings.kafka_dir / "data"
    internal = KAFKA_INTERNAL_TOPIC_PARTITIONS
    properties: dict[str, str | int] = {
        "process.roles": "broker,controller",
        "node.id": KAFKA_NODE_ID,
        # A static voter set (not `format --standalone`): the controller endpoint lives only in this
        # file, so changing the controller port later needs no re-format.
        "controller.quorum.voters": f"{KAFKA_NODE_ID}@127.0.0.1:{settings.kafka_controller_port}",
        "listeners": (
            f"PLAINTEXT://127.0.0.1:{settings.kafka_port},CONTROLLER://127.0.0.1:{settings.kafka_controller_port}"
        ),
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{settings.kafka_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": settings.partitions,
        "default.replication.factor": 1,
        "min.insync.replicas": 1,
        # Topics are created by `persona stack init` with their intended layout; a typo in a topic
        # name must fail loudly instead of silently creating a new topic.
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": internal,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "transaction.state.log.num.partitions": internal,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        "share.coordinator.state.topic.num.partitions": internal,
        # Consumers in tests and local flows join alone; waiting 3 s for more members is pure latency.
        "group.initial.rebalance.delay.ms": 0,
        # Sized for 2 cores: Kafka's defaults (3 network, 8 I/O threads) only add context switches.
        "num.network.threads": 2,
        "num.io.threads": 4,
        # The cleaner (needed by the compacted marketing_segments_rt) allocates this buffer on the heap;
        # the 128 MiB default is a quarter of the local broker's heap.
        "log.cleaner.dedupe.buffer.size": 32 * 1024 * 1024,
    }
    lines = ["# Generated by persona.localstack on every start; edit configs.py, not this file."]
    lines += [f"{key}={value}" for key, value in properties.items()]
    return "\n".join(lines) + "\n"


def _yaml_scalar(value: str | int | bool) -> str:
    # JSON strings are valid YAML scalars, which sidesteps YAML quoting rules for paths.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


def render_cassandra_yaml(settings: StackSettings) -> str:
    """cassandra.yaml of the single local node, tuned to start fast and stay small."""
    base = settings.cassandra_dir
    scalars: dict[str, str | int | bool] = {
        "cluster_name": "persona-local",
        # One token: nothing to balance on one node, and token allocation is start-up time.
        "num_tokens": 1,
        "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
        "endpoint_snitch": "SimpleSnitch",
        "listen_address": "127.0.0.1",
        "rpc_address": "127.0.0.1",
        "storage_port": settings.cassandra_storage_port,
        "native_transport_port": settings.cassandra_port,
        "start_native_transport": True,
        "auto_bootstrap": False,
        "commitlog_directory": str(base / "commitlog"),
        "saved_caches_directory": str(base / "saved_caches"),
        "hints_directory": str(base / "hints"),
        "cdc_raw_directory": str(base / "cdc_raw"),
        "commitlog_sync": "periodic",
        "commitlog_sync_period": "10000ms",
        "commitlog_segment_size": "16MiB",
        "commitlog_total_space": "512MiB",
        # A fresh 5.0 node has no 4.x data to stay compatible with; NONE enables the 5.0 storage format.
        "storage_compatibility_mode": "NONE",
        "concurrent_compactors": 1,
        "concurrent_reads": 8,
        "concurrent_writes": 8,
        "concurrent_counter_writes": 8,
        # Small memtables and caches keep the node's footprint well under its heap on a dev machine.
        "memtable_heap_space": "128MiB",
        "memtable_offheap_space": "128MiB",
        "file_cache_size": "64MiB",
        "key_cache_size": "16MiB",
        # Local data is disposable and commit-log backed; snapshots on TRUNCATE/DROP only fill the disk.
        "auto_snapshot": False,
    }
    lines = ["# Generated by persona.localstack on every start; edit configs.py, not this file."]
    lines += [f"{key}: {_yaml_scalar(value)}" for key, value in scalars.items()]
    lines += [
        "data_file_directories:",
        f"  - {_yaml_scalar(str(base / 'data'))}",
        "seed_provider:",
        "  - class_name: org.apache.cassandra.locator.SimpleSeedProvider",
        "    parameters:",
        f"      - seeds: {_yaml_scalar(f'127.0.0.1:{settings.cassandra_storage_port}')}",
    ]
    return "\n".join(lines) + "\n"


def kafka_jvm_args(settings: StackSettings, log4j_config: Path) -> list[str]:
    """JVM options shared by the broker and the storage formatter (heap only matters for the broker)."""
    return [
        f"-Xms{settings.kafka_heap}",
        f"-Xmx{settings.kafka_heap}",
        # From bin/kafka-run-class.sh: G1 with short pauses suits a broker.
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j_config}",
    ]


def kafka_command(settings: StackSettings, classpath_dir: Path, log4j_config: Path) -> list[str]:
    return [
        settings.java,
        *kafka_jvm_args(settings, log4j_config),
        "-cp",
        f"{classpath_dir}/*",
        KAFKA_MAIN_CLASS,
        str(settings.kafka_dir / "server.properties"),
    ]


def kafka_format_command(
    settings: StackSettings, classpath_dir: Path, log4j_config: Path, cluster_id: str
) -> list[str]:
    return [
        settings.java,
        # The formatter is a short-lived tool: a small heap starts faster than the broker's.
        "-Xmx256m",
        f"-Dlog4j2.configurationFile={log4j_config}",
        "-cp",
        f"{classpath_dir}/*",
        KAFKA_STORAGE_TOOL_CLASS,
        "format",
        "-t",
        cluster_id,
        "-c",
        str(settings.kafka_dir / "server.properties"),
    ]


def cassandra_command(
    settings: StackSettings, classpath_dir: Path, jamm_jar: Path, logback_config: Path
) -> list[str]:
    base = settings.cassandra_dir
    return [
        settings.java,
        f"-Xms{settings.cassandra_heap}",
        f"-Xmx{settings.cassandra_heap}",
        "-Xss256k",
        "-XX:+UseG1GC",
        "-XX:+ParallelRefProcEnabled",
        "-XX:MaxGCPauseMillis=300",
        # Caps Cassandra's CPU-derived thread pools (and the JIT/GC threads) on bigger machines too.
        "-XX:ActiveProcessorCount=2",
        "-XX:+ExitOnOutOfMemoryError",
        # Skips the hsperfdata mmap file that Cassandra's own scripts disable too.
        "-XX:+PerfDisableSharedMem",
        "-Djava.net.preferIPv4Stack=true",
        # Cassandra measures on-heap object sizes with jamm, which must be loaded as an agent.
        f"-javaagent:{jamm_jar}",
        *CASSANDRA_JVM17_MODULE_FLAGS,
        # Netty settings Cassandra's jvm17-server.options sets for direct-buffer performance.
        "-Dio.netty.tryReflectionSetAccessible=true",
        "-Dio.netty.allocator.useCacheForAllThreads=true",
        "-Dio.netty.allocator.maxOrder=11",
        f"-Dcassandra.config={(base / 'cassandra.yaml').as_uri()}",
        f"-Dcassandra.storagedir={base}",
        f"-Dcassandra.logdir={settings.logs_dir}",
        "-Dcassandra-foreground=yes",
        f"-Dlogback.configurationFile={logback_config}",
        # One node has no peers to wait for: skip gossip settling and the 30 s ring delay.
        "-Dcassandra.skip_wait_for_gossip_to_settle=0",
        "-Dcassandra.ring_delay_ms=100",
        # No -Dcassandra.jmx.*.port: JMX stays off, so no extra port can collide with other JVMs.
        "-cp",
        f"{classpath_dir}/*",
        CASSANDRA_MAIN_CLASS,
    ]


# --- MariaDB (the local CRM) ------------------------------------------------------------------------
# Debezium reads the binlog: row events with whole before/after images, a server id, and GTIDs (which
# MariaDB always writes; strict mode makes an out-of-order GTID an error rather than a silent gap).
MARIADB_BINLOG_RETENTION_SECONDS = 7 * 86_400


def render_mariadb_cnf(settings: StackSettings) -> str:
    """The server's only option file (passed with --defaults-file, so /etc/mysql is never read)."""
    base = settings.mariadb_dir
    options = {
        "datadir": str(base / "data"),
        "socket": str(settings.mariadb_socket),
        "pid-file": str(settings.run_dir / "mariadb.server.pid"),
        "port": str(settings.mariadb_port),
        "bind-address": "127.0.0.1",
        "skip-name-resolve": None,
        # Everything the CRM stores is UTC (DESIGN §4b); NOW() and DATETIME literals agree with it.
        "default-time-zone": "+00:00",
        "character-set-server": "utf8mb4",
        "collation-server": "utf8mb4_unicode_ci",
        "log-bin": str(base / "binlog" / "mariadb-bin"),
        "server-id": "1",
        "binlog-format": "ROW",
        "binlog-row-image": "FULL",
        "gtid-strict-mode": "ON",
        "binlog-expire-logs-seconds": str(MARIADB_BINLOG_RETENTION_SECONDS),
        # Small-machine sizing: the CRM is one of several local servers.
        "innodb-buffer-pool-size": "256M",
        "innodb-log-file-size": "128M",
        "max-connections": "200",
        "local-infile": "1",
        # Errors go to stderr, which the launcher appends to logs/mariadb.log.
        "log-error": "",
    }
    lines = ["[mariadbd]"]
    lines += [key if value is None else f"{key} = {value}" for key, value in options.items()]
    lines = [line for line in lines if line != "log-error = "]
    return "\n".join(lines) + "\n"


def mariadb_install_db_command(settings: StackSettings, install_db: str, user: str) -> list[str]:
    """Create the system tables in an empty data directory (once, like Kafka's storage format).

    Root may log in only through the Unix socket, as the OS user that runs the stack: the CRM has no
    root password to leak, and nothing over TCP can become root.
    """
    return [
        install_db,
        f"--defaults-file={settings.mariadb_dir / 'my.cnf'}",
        f"--user={user}",
        "--skip-test-db",
        "--auth-root-authentication-method=socket",
        f"--auth-root-socket-user={user}",
    ]


def mariadb_command(settings: StackSettings, user: str) -> list[str]:
    return [settings.mariadbd, f"--defaults-file={settings.mariadb_dir / 'my.cnf'}", f"--user={user}"]


# --- Kafka Connect (Debezium) -----------------------------------------------------------------------
CONNECT_MAIN_CLASS = "org.apache.kafka.connect.cli.ConnectDistributed"
CONNECT_GROUP_ID = "persona-connect"
# The worker's state lives in Kafka (distributed mode), so a restarted worker resumes each connector
# from its last committed binlog position: at-least-once, never a gap.
CONNECT_CONFIG_TOPIC = "_persona_connect_configs"
CONNECT_OFFSET_TOPIC = "_persona_connect_offsets"
CONNECT_STATUS_TOPIC = "_persona_connect_status"
# Offsets are committed this often: after a crash at most this much is read again from the binlog.
CONNECT_OFFSET_FLUSH_MS = 1_000


def render_connect_properties(settings: StackSettings, plugin_dir: Path) -> str:
    """connect-distributed.properties of the single local worker."""
    properties: dict[str, str | int] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "group.id": CONNECT_GROUP_ID,
        "listeners": f"http://127.0.0.1:{settings.connect_port}",
        "rest.advertised.host.name": "127.0.0.1",
        "rest.advertised.port": settings.connect_port,
        "config.storage.topic": CONNECT_CONFIG_TOPIC,
        "offset.storage.topic": CONNECT_OFFSET_TOPIC,
        "status.storage.topic": CONNECT_STATUS_TOPIC,
        "config.storage.replication.factor": 1,
        "offset.storage.replication.factor": 1,
        "status.storage.replication.factor": 1,
        "offset.storage.partitions": KAFKA_INTERNAL_TOPIC_PARTITIONS,
        "status.storage.partitions": 1,
        "offset.flush.interval.ms": CONNECT_OFFSET_FLUSH_MS,
        # Keys and values as plain JSON; a connector may ask for schemas in its own config.
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter.schemas.enable": "false",
        "plugin.path": str(plugin_dir),
        # Connector configs name their secrets as ${file:<path>:<key>}: the password stays in a private
        # file under PERSONA_HOME, out of the config topic and of the REST API's answers.
        "config.providers": "file",
        "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
        # A worker alone in its group has nobody to wait for.
        "scheduled.rebalance.max.delay.ms": 0,
    }
    lines = ["# Generated by persona.localstack on every start; edit configs.py, not this file."]
    lines += [f"{key}={value}" for key, value in properties.items()]
    return "\n".join(lines) + "\n"


def connect_command(settings: StackSettings, classpath_dir: Path, log4j_config: Path) -> list[str]:
    return [
        settings.java,
        f"-Xms{settings.connect_heap}",
        f"-Xmx{settings.connect_heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j_config}",
        "-cp",
        f"{classpath_dir}/*",
        CONNECT_MAIN_CLASS,
        str(settings.connect_dir / "connect-distributed.properties"),
    ]


# --- Prometheus (metrics and alerts) ----------------------------------------------------------------
# The scrape job of every persona metrics endpoint; the "flow down" alert selects on it.
PROMETHEUS_JOB = "persona"
# Short intervals: the local pipeline's lag and freshness change within seconds, and a test reading a
# metric back should not wait long. Rules are evaluated as often as Prometheus's default.
PROMETHEUS_SCRAPE_INTERVAL = "5s"
PROMETHEUS_EVALUATION_INTERVAL = "15s"
# How often file_sd re-reads the target files besides its inotify watch (which can miss events on
# some file systems).
PROMETHEUS_FILE_SD_REFRESH = "10s"
PROMETHEUS_RETENTION = "7d"


def render_prometheus_yml(settings: StackSettings) -> str:
    """prometheus.yml: the repo's alert rules, and the persona job's targets from file_sd.

    JSON is valid YAML, and spares this module a YAML writer and its quoting rules.
    """
    config = {
        "global": {
            "scrape_interval": PROMETHEUS_SCRAPE_INTERVAL,
            "evaluation_interval": PROMETHEUS_EVALUATION_INTERVAL,
        },
        "rule_files": [str(settings.prometheus_rules_dir / "*.yml")],
        "scrape_configs": [
            {
                "job_name": PROMETHEUS_JOB,
                # A flow's series carry their own `flow` label (as a pod's do, scraped without a target
                # file); it equals the target file's, so keep it rather than rename it exported_flow.
                "honor_labels": True,
                "file_sd_configs": [
                    {
                        "files": [str(settings.prometheus_targets_dir / "*.json")],
                        "refresh_interval": PROMETHEUS_FILE_SD_REFRESH,
                    }
                ],
            }
        ],
    }
    header = "# Generated by persona.localstack on every start; edit configs.py, not this file.\n"
    return header + json.dumps(config, indent=2) + "\n"


def prometheus_command(settings: StackSettings) -> list[str]:
    """The server on loopback only. --web.enable-lifecycle stays off (/-/reload and /-/quit would let
    any local user stop it): rules edited in the repo are loaded on a SIGHUP or the next start."""
    base = settings.prometheus_dir
    return [
        settings.prometheus,
        f"--config.file={base / 'prometheus.yml'}",
        f"--storage.tsdb.path={base / 'data'}",
        f"--storage.tsdb.retention.time={PROMETHEUS_RETENTION}",
        f"--web.listen-address=127.0.0.1:{settings.prometheus_port}",
    ]


# --- s3proxy (the object store of the Iceberg publication; S3 in production) ------------------------
S3PROXY_MAIN_JAR_PREFIX = "s3proxy"
# The bucket holding the Iceberg warehouse Nessie's catalog writes into (DESIGN §6).
ICEBERG_BUCKET = "persona-iceberg"
# Any region: s3proxy ignores it, but SigV4 signs it and the AWS SDKs insist on one.
S3_REGION = "us-east-1"
S3PROXY_HEAP = "256m"


def render_s3proxy_properties(settings: StackSettings) -> str:
    """s3proxy's configuration: S3 on loopback, SigV2/V4 auth, the filesystem backend under home.

    It holds the secret key, so it is written private (0600) and passed by path, never on the command
    line (which any local user can read).
    """
    properties = {
        "s3proxy.endpoint": settings.s3_endpoint,
        "s3proxy.authorization": "aws-v2-or-v4",
        "s3proxy.identity": settings.s3_access_key,
        "s3proxy.credential": settings.s3_secret_key.reveal(),
        "jclouds.provider": "filesystem",
        "jclouds.filesystem.basedir": str(settings.s3_data_dir),
    }
    lines = ["# Generated by persona.localstack on every start; edit configs.py, not this file."]
    lines += [f"{key}={value}" for key, value in properties.items()]
    return "\n".join(lines) + "\n"


def s3proxy_command(settings: StackSettings, jar: Path) -> list[str]:
    return [
        settings.java,
        f"-Xmx{S3PROXY_HEAP}",
        "-XX:+UseSerialGC",
        "-XX:+ExitOnOutOfMemoryError",
        "-jar",
        str(jar),
        "--properties",
        str(settings.s3proxy_dir / "s3proxy.properties"),
    ]


# --- Nessie (the catalog's version history: branches, tags, merges; its Iceberg REST catalog) ---------
NESSIE_RUNNER_PREFIX = "nessie-quarkus"
# The name of Nessie's (only) Iceberg warehouse; clients may pass it as `warehouse`.
NESSIE_WAREHOUSE = "persona"
NESSIE_SECRET_PREFIX = "persona.secrets.s3"


def render_nessie_properties(settings: StackSettings) -> str:
    """Nessie's config/application.properties (Quarkus reads it from the working directory).

    The version store is RocksDB under home, so branches, tags and commits survive restarts. The
    Iceberg REST catalog (``/iceberg``) keeps its warehouse in s3proxy's bucket; Nessie reads and writes
    table metadata there with the stack's S3 credentials, held here as a Quarkus secret (the file is
    private). Request signing is off: pyiceberg and Trino use their own S3 credentials for data files.
    """
    s3 = "nessie.catalog.service.s3.default-options"
    properties = {
        "quarkus.http.host": "127.0.0.1",
        "quarkus.http.port": str(settings.nessie_port),
        # The management interface (/q/health, /q/metrics) is fixed at build time to its own port;
        # 0 lets the kernel pick a free one, so it can never collide with another service.
        "quarkus.management.host": "127.0.0.1",
        "quarkus.management.port": "0",
        "quarkus.log.console.level": "INFO",
        "nessie.version.store.type": "ROCKSDB",
        "nessie.version.store.persist.rocks.database-path": str(settings.nessie_dir / "rocksdb"),
        "nessie.catalog.default-warehouse": NESSIE_WAREHOUSE,
        f"nessie.catalog.warehouses.{NESSIE_WAREHOUSE}.location": f"s3://{ICEBERG_BUCKET}/",
        f"{s3}.endpoint": settings.s3_endpoint + "/",
        f"{s3}.path-style-access": "true",
        f"{s3}.region": S3_REGION,
        f"{s3}.request-signing-enabled": "false",
        f"{s3}.access-key": f"urn:nessie-secret:quarkus:{NESSIE_SECRET_PREFIX}",
        f"{NESSIE_SECRET_PREFIX}.name": settings.s3_access_key,
        f"{NESSIE_SECRET_PREFIX}.secret": settings.s3_secret_key.reveal(),
    }
    lines = ["# Generated by persona.localstack on every start; edit configs.py, not this file."]
    lines += [f"{key}={value}" for key, value in properties.items()]
    return "\n".join(lines) + "\n"


def nessie_marker(settings: StackSettings) -> str:
    return f"-Dpersona.nessie.dir={settings.nessie_dir}"


def nessie_command(settings: StackSettings, runner_jar: Path) -> list[str]:
    return [
        settings.java25,
        f"-Xms{settings.nessie_heap}",
        f"-Xmx{settings.nessie_heap}",
        "-XX:+UseG1GC",
        "-XX:+ExitOnOutOfMemoryError",
        # RocksDB loads its native library; Java 25 warns on every start unless this is granted.
        "--enable-native-access=ALL-UNNAMED",
        # Marks this home's instance in the process table (Quarkus ignores unknown system properties).
        nessie_marker(settings),
        "-jar",
        str(runner_jar),
    ]


# --- The history catalog (Apache Iceberg's REST catalog server: the publication's snapshot history) ---
# Nessie 0.99's Iceberg REST catalog serves a table with its current snapshot only and keeps no
# table-level refs, so `FOR VERSION AS OF <older id | 'tag'>` and `FOR TIMESTAMP AS OF` cannot read
# past publications there. The publication also writes main here, one appended snapshot per
# publication plus an Iceberg tag per `rfm-*`/`release-*`; Nessie keeps the branches.
# The fixture's main (org.apache.iceberg.rest.RESTCatalogServer) binds every interface (`new
# Server(port)`); this launcher, a single Java source file beside this module run by Java's source
# launcher, serves the same catalog on 127.0.0.1 only.
ICEBERG_REST_LAUNCHER = Path(__file__).parent / "java" / "LoopbackRestCatalogServer.java"
# Its warehouse: a prefix of the publication's bucket, apart from Nessie's tables (under persona/).
HISTORY_PREFIX = "history"
ICEBERG_REST_HEAP = "256m"


def iceberg_rest_environment(settings: StackSettings) -> dict[str, str]:
    """The server's configuration: ``CATALOG_*`` variables, each a catalog property (RCKUtils maps
    ``CATALOG_A__B_C`` to ``a-b.c``). A JdbcCatalog on a SQLite file under home (the table pointers;
    the metadata and data files are in s3proxy), S3FileIO path-style on the stack's s3proxy.

    The server logs these properties at start, so the S3 key pair is not among them: see
    :func:`iceberg_rest_credentials`.
    """
    return {
        "CATALOG_CATALOG__IMPL": "org.apache.iceberg.jdbc.JdbcCatalog",
        "CATALOG_URI": f"jdbc:sqlite:{settings.iceberg_rest_dir / 'catalog.db'}",
        "CATALOG_JDBC_SCHEMA__VERSION": "V1",
        "CATALOG_WAREHOUSE": f"s3://{ICEBERG_BUCKET}/{HISTORY_PREFIX}",
        "CATALOG_IO__IMPL": "org.apache.iceberg.aws.s3.S3FileIO",
        "CATALOG_S3_ENDPOINT": settings.s3_endpoint,
        "CATALOG_S3_PATH__STYLE__ACCESS": "true",
        "CATALOG_REST_PORT": str(settings.iceberg_rest_port),
        "AWS_REGION": S3_REGION,
    }


def iceberg_rest_credentials(settings: StackSettings) -> dict[str, str]:
    """The stack's S3 key pair as the AWS SDK's environment variables: S3FileIO's default credentials
    chain finds them, and they never appear in a catalog property, a log or the command line."""
    return {
        "AWS_ACCESS_KEY_ID": settings.s3_access_key,
        "AWS_SECRET_ACCESS_KEY": settings.s3_secret_key.reveal(),
        # No profile file of the user's (~/.aws) is read instead.
        "AWS_CONFIG_FILE": str(settings.iceberg_rest_dir / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(settings.iceberg_rest_dir / "aws-credentials"),
    }


def iceberg_rest_marker(settings: StackSettings) -> str:
    return f"-Dpersona.iceberg-rest.dir={settings.iceberg_rest_dir}"


def iceberg_rest_command(settings: StackSettings, classpath: Path) -> list[str]:
    """Java 17 (a JDK: the source launcher compiles the launcher at start, a few seconds), a small
    heap: the server holds no table data, only what one request needs. Loopback only."""
    return [
        settings.java,
        f"-Xmx{ICEBERG_REST_HEAP}",
        "-XX:+UseSerialGC",
        "-XX:+ExitOnOutOfMemoryError",
        iceberg_rest_marker(settings),
        f"-Dpersona.iceberg-rest.host={LOCALHOST}",
        "-cp",
        str(classpath / "*"),
        str(ICEBERG_REST_LAUNCHER),
    ]


# --- Trino (SQL over the Iceberg publication; started by `stack up --with trino`) ---------------------
TRINO_VERSION = "476"
# The tarball's top directory: lib/ (the server's classpath), plugin/<name>/ (one classloader each).
TRINO_SERVER_DIR = f"trino-server-{TRINO_VERSION}"
TRINO_MAIN_CLASS = "io.trino.server.TrinoServer"
# The one catalog: Nessie's Iceberg REST catalog. Its schemas are the Iceberg namespaces.
TRINO_CATALOG = "iceberg"
TRINO_ENVIRONMENT = "persona"


def _properties(properties: Mapping[str, str]) -> str:
    lines = ["# Generated by persona.localstack on every start; edit configs.py, not this file."]
    lines += [f"{key}={value}" for key, value in properties.items()]
    return "\n".join(lines) + "\n"


def render_trino_node_properties(settings: StackSettings) -> str:
    """etc/node.properties: one node on loopback. Without node.internal-address Trino announces the
    machine's hostname address, which the coordinator here cannot reach itself through."""
    return _properties(
        {
            "node.environment": TRINO_ENVIRONMENT,
            # Stable across restarts: Trino keys its node identity (and query ids' prefix) on it.
            "node.id": "persona-local",
            "node.data-dir": str(settings.trino_dir / "data"),
            "node.bind-ip": LOCALHOST,
            "node.internal-address": LOCALHOST,
        }
    )


def render_trino_config_properties(settings: StackSettings, install: Path) -> str:
    """etc/config.properties: a coordinator that is its own (only) worker, on loopback.

    The plugin directory is the cached install's, which holds only the Iceberg connector: loading the
    tarball's other ~50 plugins would take most of the start-up time on two cores for nothing.
    """
    return _properties(
        {
            "coordinator": "true",
            "node-scheduler.include-coordinator": "true",
            "http-server.http.port": str(settings.trino_port),
            "discovery.uri": settings.trino_url,
            "plugin.dir": str(install / "plugin"),
            # Queries here read a few hundred thousand rows; the defaults size for a cluster.
            "query.max-memory": "512MB",
            "task.concurrency": "2",
            "web-ui.enabled": "false",
            # `persona sql --engine trino --ref R` adds a catalog per Nessie reference (CREATE CATALOG),
            # stored beside iceberg.properties; none holds a secret (see render_trino_s3_credentials).
            "catalog.management": "dynamic",
            "catalog.store": "file",
        }
    )


def trino_iceberg_properties(settings: StackSettings, reference: str = "main") -> dict[str, str]:
    """An Iceberg connector catalog on Nessie's Iceberg REST catalog of one Nessie reference (branch or
    tag: Nessie serves each under ``/iceberg/<ref>``), reading data files from s3proxy path-style.

    No credentials: the S3 client finds them in the private file of render_trino_s3_credentials, so
    a catalog made with CREATE CATALOG (whose text Trino logs) never carries the secret.
    """
    return {
        "iceberg.catalog.type": "rest",
        "iceberg.rest-catalog.uri": f"{settings.nessie_url}/iceberg/{reference}",
        "iceberg.rest-catalog.warehouse": NESSIE_WAREHOUSE,
        **_trino_s3_properties(settings),
    }


def _trino_s3_properties(settings: StackSettings) -> dict[str, str]:
    """How a Trino Iceberg catalog reads the data files: s3proxy, path-style (keys: see
    render_trino_s3_credentials)."""
    return {
        "fs.native-s3.enabled": "true",
        "s3.endpoint": settings.s3_endpoint,
        "s3.region": S3_REGION,
        "s3.path-style-access": "true",
    }


# The Trino catalog on the history catalog: `persona sql --engine trino --history` reads it.
TRINO_HISTORY_CATALOG = "history"


def trino_history_properties(settings: StackSettings) -> dict[str, str]:
    """An Iceberg connector catalog on the history catalog (main's publications with their snapshots
    and tags), reading data files from s3proxy like the Nessie catalogs."""
    return {
        "iceberg.catalog.type": "rest",
        "iceberg.rest-catalog.uri": settings.iceberg_rest_url,
        **_trino_s3_properties(settings),
    }


def render_trino_history_properties(settings: StackSettings) -> str:
    """etc/catalog/history.properties."""
    return _properties({"connector.name": "iceberg", **trino_history_properties(settings)})


def render_trino_catalog_store_properties(settings: StackSettings) -> str:
    """etc/catalog-store.properties (Trino reads it from its working directory): where the file catalog
    store of dynamic catalogs keeps them, beside the static iceberg.properties."""
    return _properties({"catalog.config-dir": str(settings.trino_dir / "etc" / "catalog")})


def render_trino_iceberg_properties(settings: StackSettings) -> str:
    """etc/catalog/iceberg.properties: the catalog of Nessie's main branch."""
    return _properties({"connector.name": "iceberg", **trino_iceberg_properties(settings)})


def render_trino_s3_credentials(settings: StackSettings) -> str:
    """The AWS SDK's shared credentials file (default profile) with the stack's S3 key pair: Trino's
    S3 client reads it when a catalog names no key. Written private (0600); the command line names
    only its path (``-Daws.sharedCredentialsFile``)."""
    return (
        "# Generated by persona.localstack on every start; edit configs.py, not this file.\n"
        "[default]\n"
        f"aws_access_key_id = {settings.s3_access_key}\n"
        f"aws_secret_access_key = {settings.s3_secret_key.reveal()}\n"
    )


def render_trino_log_properties() -> str:
    return _properties({"io.trino": "INFO"})


def trino_marker(settings: StackSettings) -> str:
    return f"-Dpersona.trino.dir={settings.trino_dir}"


def trino_command(settings: StackSettings, install: Path) -> list[str]:
    """What Trino's launcher would run, without the launcher (a Go binary per platform): the JVM
    options of Trino's recommended jvm.config scaled down, node.properties as system properties (the
    launcher passes them so too) and the server's classpath."""
    etc = settings.trino_dir / "etc"
    node = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in render_trino_node_properties(settings).splitlines()
        if "=" in line and not line.startswith("#")
    }
    return [
        settings.java25,
        f"-Xmx{settings.trino_heap}",
        "-XX:+UseG1GC",
        "-XX:G1HeapRegionSize=32M",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-XX:+ExitOnOutOfMemoryError",
        "-XX:-OmitStackTraceInFastThrow",
        "-XX:ReservedCodeCacheSize=256M",
        "-XX:PerMethodRecompilationCutoff=10000",
        "-XX:PerBytecodeRecompilationCutoff=10000",
        "-Djdk.attach.allowAttachSelf=true",
        "-XX:+EnableDynamicAgentLoading",
        "-Djdk.nio.maxCachedBufferSize=2000000",
        "-Dfile.encoding=UTF-8",
        "--enable-native-access=ALL-UNNAMED",
        trino_marker(settings),
        # The AWS SDK's files: the private credentials file, and no config file of the user's (~/.aws).
        f"-Daws.sharedCredentialsFile={etc / 's3-credentials'}",
        f"-Daws.configFile={etc / 'aws-config'}",
        *(f"-D{key}={value}" for key, value in node.items()),
        f"-Dlog.levels-file={etc / 'log.properties'}",
        f"-Dconfig={etc / 'config.properties'}",
        "-cp",
        str(install / "lib" / "*"),
        TRINO_MAIN_CLASS,
    ]
