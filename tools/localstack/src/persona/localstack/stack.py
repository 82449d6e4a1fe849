"""Lifecycle of the local stack: up (start + wait healthy + init), down, status, log locations."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import getpass
import logging
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from persona.kafka import KafkaAdminError
from persona.localstack import catalog, configs, objectstore, procs, sqlengine
from persona.localstack import prometheus as prometheus_api
from persona.localstack.clients import cassandra_session, kafka_admin
from persona.localstack.connect import connect_version, connector_state
from persona.localstack.crm_schema import root_connection
from persona.localstack.errors import StackError
from persona.localstack.jars import classpath_dir, find_jar, resolve_classpath, unpack_trino
from persona.localstack.schema import InitReport, init_schema
from persona.localstack.settings import JAVA25_MAJOR, StackSettings

SERVICES: tuple[str, ...] = (
    "kafka",
    "cassandra",
    "mariadb",
    "connect",
    "prometheus",
    "s3proxy",
    "nessie",
    "iceberg-rest",
)
# Started only when asked for (`stack up --with trino`), after the others are healthy: Trino's
# Iceberg catalog is Nessie's, and its start (tens of seconds of two cores) is wasted on runs that
# never query SQL. `down` and `status` cover them whenever they run.
OPTIONAL_SERVICES: tuple[str, ...] = ("trino",)
ALL_SERVICES: tuple[str, ...] = SERVICES + OPTIONAL_SERVICES
# Connect after Kafka and MariaDB: it needs Kafka to start (its state lives there) and reads MariaDB's
# binlog. Prometheus needs nobody: it scrapes whatever target files appear. Nessie, the slowest to
# start, goes early; it needs s3proxy only when a catalog request reads or writes table metadata.
# The history catalog (iceberg-rest) starts in about a second: last.
START_ORDER: tuple[str, ...] = (
    "cassandra",
    "nessie",
    "kafka",
    "mariadb",
    "connect",
    "prometheus",
    "s3proxy",
    "iceberg-rest",
)
# The services that run on the JVM from a classpath resolved from infra/local/<service>/pom.xml; the
# others come from the machine's packages.
JVM_SERVICES: tuple[str, ...] = ("kafka", "cassandra", "connect", "s3proxy", "nessie", "iceberg-rest")
# Those needing a newer Java than PERSONA_JAVA's 17 (PERSONA_JAVA25).
JAVA25_SERVICES: tuple[str, ...] = ("nessie", "trino")
# Resolved with a service though not on its classpath: Connect's Debezium plugin directory.
EXTRA_CLASSPATHS: dict[str, tuple[str, ...]] = {"connect": ("debezium",)}
MARIADB_INSTALL_DB = "mariadb-install-db"
MIN_JAVA_MAJOR = 17  # Kafka 4.x brokers require Java 17.
LOG_TAIL_LINES = 30

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
"""Where ``up`` and ``down`` report what they are doing; this module's log by default."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    port: int
    pid: int | None
    healthy: bool
    detail: str


@dataclass(frozen=True)
class UpReport:
    started: tuple[str, ...]
    already_running: tuple[str, ...]
    # Seconds since `up` began at which each phase finished ("resolve", "kafka", "cassandra", "init").
    timings: dict[str, float]
    init: InitReport | None


def pid_file(settings: StackSettings, service: str) -> Path:
    return settings.run_dir / f"{service}.pid"


def log_file(settings: StackSettings, service: str) -> Path:
    _check_service(service)
    return settings.logs_dir / f"{service}.log"


def service_port(settings: StackSettings, service: str) -> int:
    """The client-facing port of a service."""
    _check_service(service)
    return {
        "kafka": settings.kafka_port,
        "cassandra": settings.cassandra_port,
        "mariadb": settings.mariadb_port,
        "connect": settings.connect_port,
        "prometheus": settings.prometheus_port,
        "s3proxy": settings.s3_port,
        "nessie": settings.nessie_port,
        "iceberg-rest": settings.iceberg_rest_port,
        "trino": settings.trino_port,
    }[service]


def _service_ports(settings: StackSettings, service: str) -> dict[str, int]:
    if service == "kafka":
        return {"kafka": settings.kafka_port, "kafka controller": settings.kafka_controller_port}
    if service == "mariadb":
        return {"mariadb": settings.mariadb_port}
    if service == "connect":
        return {"connect": settings.connect_port}
    if service == "prometheus":
        return {"prometheus": settings.prometheus_port}
    if service == "s3proxy":
        return {"s3proxy": settings.s3_port}
    if service == "nessie":
        return {"nessie": settings.nessie_port}
    if service == "trino":
        return {"trino": settings.trino_port}
    if service == "iceberg-rest":
        return {"iceberg-rest": settings.iceberg_rest_port}
    return {"cassandra": settings.cassandra_port, "cassandra storage": settings.cassandra_storage_port}


def _check_service(service: str) -> None:
    if service not in ALL_SERVICES:
        raise StackError(f"unknown service {service!r}; expected one of {', '.join(ALL_SERVICES)}")


def _process_markers(settings: StackSettings, service: str) -> tuple[str, ...]:
    # Exact arguments: the main class plus one naming this home, so a recycled pid, or the same
    # service of another home's stack, never matches.
    if service == "kafka":
        return (configs.KAFKA_MAIN_CLASS, str(settings.kafka_dir / "server.properties"))
    if service == "mariadb":
        return (settings.mariadbd, f"--defaults-file={settings.mariadb_dir / 'my.cnf'}")
    if service == "connect":
        return (configs.CONNECT_MAIN_CLASS, str(settings.connect_dir / "connect-distributed.properties"))
    if service == "prometheus":
        return (settings.prometheus, f"--config.file={settings.prometheus_dir / 'prometheus.yml'}")
    if service == "s3proxy":
        return ("--properties", str(settings.s3proxy_dir / "s3proxy.properties"))
    if service == "nessie":
        return (configs.nessie_marker(settings),)
    if service == "trino":
        return (configs.TRINO_MAIN_CLASS, configs.trino_marker(settings))
    if service == "iceberg-rest":
        return (configs.iceberg_rest_marker(settings),)
    return (configs.CASSANDRA_MAIN_CLASS, f"-Dcassandra.storagedir={settings.cassandra_dir}")


def running_pid(settings: StackSettings, service: str) -> int | None:
    """The pid of this home's ``service`` if it is running, else None.

    The pid file is the fast path; when it is missing or stale, the process table is searched too, so
    a lost pid file never leads to a second instance (or to wiping data under a live one).
    """
    markers = _process_markers(settings, service)
    pid = procs.read_pid(pid_file(settings, service))
    if pid is not None and procs.is_service_process(pid, markers):
        return pid
    found = procs.find_processes(markers)
    if not found:
        return None
    procs.write_pid(pid_file(settings, service), found[0])
    return found[0]


def probe(settings: StackSettings, service: str, timeout: float = 3.0) -> tuple[bool, str]:
    """Protocol-level health of a service: (healthy, detail)."""
    _check_service(service)
    port = service_port(settings, service)
    if not procs.tcp_accepts(port):
        return False, f"nothing accepts connections on 127.0.0.1:{port}"
    if service == "kafka":
        try:
            cluster = kafka_admin(settings).cluster(timeout=timeout)
        except KafkaAdminError as error:
            return False, str(error)
        return True, f"cluster {cluster.cluster_id}, {cluster.topics} topics"
    if service == "mariadb":
        return _probe_mariadb(settings, timeout)
    if service == "connect":
        try:
            version = connect_version(settings, timeout=timeout)
            return True, f"Kafka Connect {version}; {connector_state(settings).describe()}"
        except StackError as error:
            return False, str(error)
    if service == "prometheus":
        return prometheus_api.probe(settings, timeout)
    if service == "s3proxy":
        return objectstore.probe(settings, timeout)
    if service == "nessie":
        return catalog.probe(settings, timeout)
    if service == "trino":
        return sqlengine.probe(settings, timeout)
    if service == "iceberg-rest":
        return catalog.history_probe(settings, timeout)
    try:
        with cassandra_session(settings, connect_timeout=timeout, metadata=False) as session:
            row = session.execute("SELECT release_version FROM system.local", timeout=timeout).one()
    except Exception as error:  # every driver failure (no host, timeout, protocol) means "not healthy"
        return False, f"query failed: {error}"
    return True, f"Cassandra {row.release_version}"


def _probe_mariadb(settings: StackSettings, timeout: float) -> tuple[bool, str]:
    try:
        with root_connection(settings, timeout=timeout) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT VERSION(), @@gtid_current_pos, @@binlog_format")
            version, gtid, binlog_format = cursor.fetchone()
    except StackError as error:
        return False, f"query failed: {error}"
    return True, f"MariaDB {version.split('-')[0]}, binlog {binlog_format}, GTID {gtid or '(none yet)'}"


def java_major_version(version_output: str) -> int | None:
    """The major version from ``java -version`` output (``"17.0.15"`` -> 17, ``"1.8.0_392"`` -> 8)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def check_java25(settings: StackSettings) -> str:
    """The Java 25 executable of Nessie (and Trino), after checking it exists and is 25 or later."""
    java = shutil.which(settings.java25)
    if java is None:
        raise StackError(
            f"Java {JAVA25_MAJOR}+ is required to run Nessie and Trino, but {settings.java25!r} was not found: "
            f"install a JDK {JAVA25_MAJOR} under /usr/lib/jvm or set PERSONA_JAVA25"
        )
    result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
    major = java_major_version(result.stderr + result.stdout)
    if major is None or major < JAVA25_MAJOR:
        raise StackError(
            f"{java} is Java {major if major is not None else '(unknown version)'}; Nessie 0.99 and Trino "
            f"476 need Java {JAVA25_MAJOR}: set PERSONA_JAVA25 to a Java {JAVA25_MAJOR} installation"
        )
    return java


def check_java(settings: StackSettings) -> str:
    """The java executable to use, after checking it exists and is new enough."""
    java = shutil.which(settings.java)
    if java is None:
        raise StackError(
            f"Java {MIN_JAVA_MAJOR}+ is required to run Kafka and Cassandra, but {settings.java!r} was "
            "not found: install it (e.g. apt-get install openjdk-17-jre-headless) or set PERSONA_JAVA "
            "or JAVA_HOME"
        )
    result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
    major = java_major_version(result.stderr + result.stdout)
    if major is None or major < MIN_JAVA_MAJOR:
        raise StackError(
            f"{java} is Java {major if major is not None else '(unknown version)'}; Kafka 4 and "
            f"Cassandra 5 need Java {MIN_JAVA_MAJOR}: set PERSONA_JAVA or JAVA_HOME to a Java "
            f"{MIN_JAVA_MAJOR} installation"
        )
    return java


@contextlib.contextmanager
def _stack_lock(settings: StackSettings) -> Iterator[None]:
    """Serialize up/down of one home, so two concurrent `up`s cannot both start a service."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    with (settings.run_dir / "stack.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# Written to a service's log before each start, so an error shows only the current start's lines
# (logs are appended across restarts).
START_MARKER = "==== persona.localstack: starting"


def _mark_start(settings: StackSettings, service: str) -> None:
    path = log_file(settings, service)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as log:
        log.write(f"{START_MARKER} {service} at {time.strftime('%Y-%m-%d %H:%M:%S')} ====\n")


def _log_tail(settings: StackSettings, service: str) -> str:
    path = log_file(settings, service)
    lines = procs.tail_lines(path, 2000)
    starts = [index for index, line in enumerate(lines) if line.startswith(START_MARKER)]
    lines = lines[starts[-1] + 1 :] if starts else lines
    lines = lines[-LOG_TAIL_LINES:]
    if not lines:
        return f"{path} has nothing from this start"
    return f"last {len(lines)} lines of {path}:\n" + "\n".join(lines)


def _check_ports_free(settings: StackSettings, services: Sequence[str]) -> None:
    by_owner: dict[str, list[str]] = {}
    for service in services:
        for label, port in procs.busy_ports(_service_ports(settings, service)).items():
            owner = procs.describe_port_owner(port) or "another process"
            by_owner.setdefault(owner, []).append(f"{port} ({label})")
    problems = [
        f"{'ports' if len(ports) > 1 else 'port'} {', '.join(ports)} already in use by {owner}"
        for owner, ports in by_owner.items()
    ]
    if problems:
        raise StackError(
            "cannot start the local stack: "
            + "; ".join(problems)
            + ". Stop it, or choose other ports with PERSONA_KAFKA_PORT, "
            "PERSONA_KAFKA_CONTROLLER_PORT, PERSONA_CASSANDRA_PORT, PERSONA_CASSANDRA_STORAGE_PORT, "
            "PERSONA_MARIADB_PORT, PERSONA_CONNECT_PORT, PERSONA_PROMETHEUS_PORT, PERSONA_S3_PORT, "
            "PERSONA_NESSIE_PORT, PERSONA_ICEBERG_REST_PORT, PERSONA_TRINO_PORT."
        )


def _start_kafka(settings: StackSettings, java: str | None, classpath: Path | None) -> int:
    assert java is not None and classpath is not None, "Kafka runs on the JVM"
    settings.kafka_dir.mkdir(parents=True, exist_ok=True)
    (settings.kafka_dir / "server.properties").write_text(configs.render_kafka_properties(settings))
    log4j_config = settings.infra_dir / "kafka" / "log4j2.yaml"
    run_settings = _with_java(settings, java)
    if not (settings.kafka_dir / "data" / "meta.properties").is_file():
        # KRaft refuses to start on unformatted storage; formatting once writes the cluster id.
        command = configs.kafka_format_command(
            run_settings, classpath, log4j_config, configs.new_kafka_cluster_id()
        )
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip().splitlines()[-LOG_TAIL_LINES:]
            raise StackError("formatting Kafka storage failed:\n" + "\n".join(output))
    return procs.start_detached(
        configs.kafka_command(run_settings, classpath, log4j_config),
        log_file(settings, "kafka"),
        cwd=settings.kafka_dir,
    )


def _start_cassandra(settings: StackSettings, java: str | None, classpath: Path | None) -> int:
    assert java is not None and classpath is not None, "Cassandra runs on the JVM"
    settings.cassandra_dir.mkdir(parents=True, exist_ok=True)
    (settings.cassandra_dir / "cassandra.yaml").write_text(configs.render_cassandra_yaml(settings))
    command = configs.cassandra_command(
        _with_java(settings, java),
        classpath,
        jamm_jar=find_jar(classpath, "jamm"),
        logback_config=settings.infra_dir / "cassandra" / "logback.xml",
    )
    # Cassandra mlockall()s at start-up whenever it may. With -Xms = -Xmx that pins the whole heap (and
    # every mapped jar) in RAM, about twice what an idle local node otherwise keeps resident.
    # Forbidding mlock makes that call fail harmlessly (Cassandra logs a WARN and goes on).
    return procs.start_detached(
        command, log_file(settings, "cassandra"), cwd=settings.cassandra_dir, forbid_mlock=True
    )


def _find_mariadb_tool(settings: StackSettings, name: str) -> str:
    """A MariaDB program installed beside the server (Debian: /usr/bin, the server in /usr/sbin)."""
    server = shutil.which(settings.mariadbd)
    if server is None:
        raise StackError(
            f"the MariaDB server ({settings.mariadbd!r}) was not found: install Debian's mariadb-server "
            "(`./dev` does when it is missing: apt-get install mariadb-server) or set PERSONA_MARIADBD"
        )
    for directory in (Path(server).parent, Path(server).parent.parent / "bin"):
        if (directory / name).is_file():
            return str(directory / name)
    found = shutil.which(name)
    if found is None:
        raise StackError(f"{name} was not found beside {server} nor on PATH; reinstall mariadb-server")
    return found


def _start_mariadb(settings: StackSettings, java: str | None, classpath: Path | None) -> int:
    base = settings.mariadb_dir
    for directory in (base, base / "binlog", settings.run_dir):
        directory.mkdir(parents=True, exist_ok=True)
    (base / "my.cnf").write_text(configs.render_mariadb_cnf(settings))
    user = getpass.getuser()
    if not (base / "data" / "mysql").is_dir():
        # Like Kafka's storage format: the system tables are created once, in an empty data directory.
        shutil.rmtree(base / "data", ignore_errors=True)
        command = configs.mariadb_install_db_command(
            settings, _find_mariadb_tool(settings, MARIADB_INSTALL_DB), user
        )
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip().splitlines()[-LOG_TAIL_LINES:]
            raise StackError("initializing the MariaDB data directory failed:\n" + "\n".join(output))
    server = shutil.which(settings.mariadbd)
    if server is None:
        _find_mariadb_tool(settings, MARIADB_INSTALL_DB)  # raises the explanation
        raise StackError(f"the MariaDB server {settings.mariadbd!r} was not found")
    return procs.start_detached(
        configs.mariadb_command(dataclasses.replace(settings, mariadbd=server), user),
        log_file(settings, "mariadb"),
        cwd=base,
    )


def _start_connect(settings: StackSettings, java: str | None, classpath: Path | None) -> int:
    assert java is not None and classpath is not None, "Kafka Connect runs on the JVM"
    plugins = settings.connect_dir / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    # plugin.path holds one directory per plugin: a link to the resolved Debezium jars.
    link = plugins / "debezium-mariadb"
    link.unlink(missing_ok=True)
    link.symlink_to(classpath_dir(settings, "debezium"), target_is_directory=True)
    (settings.connect_dir / "connect-distributed.properties").write_text(
        configs.render_connect_properties(settings, plugins)
    )
    return procs.start_detached(
        configs.connect_command(
            _with_java(settings, java), classpath, settings.infra_dir / "connect" / "log4j2.properties"
        ),
        log_file(settings, "connect"),
        cwd=settings.connect_dir,
    )


def _start_prometheus(settings: StackSettings, java: str | None, classpath: Path | None) -> int:
    if shutil.which(settings.prometheus) is None:
        raise StackError(
            f"the Prometheus server ({settings.prometheus!r}) was not found: install Debian's prometheus "
            "(`./dev` does when it is missing: apt-get install prometheus) or set PERSONA_PROMETHEUS"
        )
    rules = settings.prometheus_rules_dir
    if not rules.is_dir():
        raise StackError(f"the alert rules directory {rules} is missing; run persona from the checkout")
    base = settings.prometheus_dir
    procs.private_dir(settings.prometheus_targets_dir)
    (base / "prometheus.yml").write_text(configs.render_prometheus_yml(settings))
    return procs.start_detached(
        configs.prometheus_command(settings), log_file(settings, "prometheus"), cwd=base
    )


def _start_s3proxy(settings: StackSettings, java: str | None, classpath: Path | None) -> int:
    assert java is not None and classpath is not None, "s3proxy runs on the JVM"
    base = settings.s3proxy_dir
    procs.private_dir(base)
    # The filesystem backend keeps one directory per bucket: the warehouse bucket exists from the start.
    procs.private_dir(settings.s3_data_dir / configs.ICEBERG_BUCKET)
    # Holds the secret key: private, and named on the command line only by its path.
    procs.write_private(base / "s3proxy.properties", configs.render_s3proxy_properties(settings))
    jar = find_jar(classpath, configs.S3PROXY_MAIN_JAR_PREFIX)
    return procs.start_detached(
        configs.s3proxy_command(_with_java(settings, java), jar), log_file(settings, "s3proxy"), cwd=base
    )


def _start_nessie(settings: StackSettings, java: str | None, classpath: Path | None) -> int:
    assert java is not None and classpath is not None, "Nessie runs on the JVM"
    base = settings.nessie_dir
    procs.private_dir(base)
    # Quarkus reads config/application.properties from its working directory; it holds the S3 secret.
    procs.write_private(
        base / "config" / "application.properties", configs.render_nessie_properties(settings)
    )
    runner = find_jar(classpath, configs.NESSIE_RUNNER_PREFIX)
    command = configs.nessie_command(dataclasses.replace(settings, java25=java), runner)
    return procs.start_detached(command, log_file(settings, "nessie"), cwd=base)


def _start_iceberg_rest(settings: StackSettings, java: str | None, classpath: Path | None) -> int:
    assert java is not None and classpath is not None, "the history catalog runs on the JVM"
    procs.private_dir(settings.iceberg_rest_dir)
    # Its warehouse is a prefix of the publication's bucket (s3proxy makes the bucket at its start).
    environment = {
        **configs.iceberg_rest_environment(settings),
        **configs.iceberg_rest_credentials(settings),
    }
    command = configs.iceberg_rest_command(_with_java(settings, java), classpath)
    return procs.start_detached(
        command, log_file(settings, "iceberg-rest"), cwd=settings.iceberg_rest_dir, env=environment
    )


def _start_trino(settings: StackSettings, java: str | None, install: Path | None) -> int:
    assert java is not None and install is not None, "Trino runs on the JVM"
    etc = settings.trino_dir / "etc"
    procs.private_dir(etc / "catalog")
    (etc / "node.properties").write_text(configs.render_trino_node_properties(settings))
    (etc / "config.properties").write_text(configs.render_trino_config_properties(settings, install))
    (etc / "log.properties").write_text(configs.render_trino_log_properties())
    (etc / "catalog-store.properties").write_text(configs.render_trino_catalog_store_properties(settings))
    # The catalogs of Nessie references that `persona sql --ref` created last time: made again on
    # first use, so references deleted since (a test's, a merged branch) are not loaded for nothing.
    for stale in (etc / "catalog").glob(f"{configs.TRINO_CATALOG}_*.properties"):
        stale.unlink()
    (etc / "catalog" / "iceberg.properties").write_text(configs.render_trino_iceberg_properties(settings))
    (etc / "catalog" / f"{configs.TRINO_HISTORY_CATALOG}.properties").write_text(
        configs.render_trino_history_properties(settings)
    )
    # Holds the S3 secret key: private, named on the command line only by its path.
    procs.write_private(etc / "s3-credentials", configs.render_trino_s3_credentials(settings))
    procs.write_private(etc / "aws-config", f"[default]\nregion = {configs.S3_REGION}\n")
    command = configs.trino_command(dataclasses.replace(settings, java25=java), install)
    return procs.start_detached(command, log_file(settings, "trino"), cwd=settings.trino_dir)


def _with_java(settings: StackSettings, java: str) -> StackSettings:
    return dataclasses.replace(settings, java=java)


_STARTERS: dict[str, Callable[[StackSettings, str | None, Path | None], int]] = {
    "kafka": _start_kafka,
    "cassandra": _start_cassandra,
    "mariadb": _start_mariadb,
    "connect": _start_connect,
    "prometheus": _start_prometheus,
    "s3proxy": _start_s3proxy,
    "nessie": _start_nessie,
    "iceberg-rest": _start_iceberg_rest,
    "trino": _start_trino,
}


def _wait_healthy(
    settings: StackSettings,
    services: Sequence[str],
    began: float,
    deadline: float,
    progress: Progress,
) -> dict[str, float]:
    """Poll each service until it answers at protocol level; fail fast when a started one dies."""
    ready_at: dict[str, float] = {}
    budget = deadline - time.monotonic()
    pending = list(services)
    while pending:
        for service in list(pending):
            pid = procs.read_pid(pid_file(settings, service))
            if pid is not None and not procs.process_alive(pid):
                raise StackError(f"{service} exited before it became healthy; {_log_tail(settings, service)}")
            healthy, detail = probe(settings, service, timeout=2.0)
            if healthy:
                pending.remove(service)
                ready_at[service] = time.monotonic() - began
                progress(f"{service} healthy after {ready_at[service]:.1f} s ({detail})")
        if pending and time.monotonic() >= deadline:
            service = pending[0]
            raise StackError(
                f"{service} did not become healthy within {budget:.0f} s; "
                f"{_log_tail(settings, service)}\n"
                "Run `persona stack down` and `persona stack up` again, or read the whole log with "
                f"`persona stack logs {service}`."
            )
        if pending:
            time.sleep(0.25)  # polling interval while the JVMs start
    return ready_at


def up(
    settings: StackSettings,
    *,
    progress: Progress = log.info,
    timeout: float = 180.0,
    run_init: bool = True,
    with_services: Sequence[str] = (),
) -> UpReport:
    """Start whatever is not running, wait until everything is healthy, then bootstrap the schema.

    ``with_services`` adds optional services (``trino``), started once the others are healthy and
    waited for (with a budget of ``timeout`` of their own) after the schema bootstrap.
    Idempotent: healthy services started earlier from the same home are left alone.
    """
    unknown = [service for service in with_services if service not in OPTIONAL_SERVICES]
    if unknown:
        raise StackError(
            f"unknown optional service {', '.join(unknown)}; expected one of {', '.join(OPTIONAL_SERVICES)}"
        )
    began = time.monotonic()
    timings: dict[str, float] = {}
    with _stack_lock(settings):
        to_start = [service for service in SERVICES if running_pid(settings, service) is None]
        already_running = tuple(service for service in SERVICES if service not in to_start)
        for service in to_start:
            # Whatever the pid file says, that process is gone (or is not ours): forget it.
            pid_file(settings, service).unlink(missing_ok=True)
        if to_start:
            _check_ports_free(settings, to_start)
            jvm_services = [service for service in to_start if service in JVM_SERVICES]
            java = check_java(settings) if any(s not in JAVA25_SERVICES for s in jvm_services) else None
            java25 = check_java25(settings) if any(s in JAVA25_SERVICES for s in jvm_services) else None
            classpaths: dict[str, Path] = {}
            if jvm_services:
                names = [
                    *jvm_services,
                    *(extra for s in jvm_services for extra in EXTRA_CLASSPATHS.get(s, ())),
                ]
                # Maven runs on a cold machine: in parallel they take little more than one.
                with ThreadPoolExecutor(max_workers=len(names)) as pool:
                    futures = {
                        name: pool.submit(resolve_classpath, settings, name, progress) for name in names
                    }
                    classpaths = {name: future.result() for name, future in futures.items()}
            timings["resolve"] = time.monotonic() - began
            # Cassandra first: it is the slower one to become healthy, and Kafka's first start
            # formats its storage (a JVM run of its own) before launching.
            for service in sorted(to_start, key=START_ORDER.index):
                progress(f"starting {service}…")
                _mark_start(settings, service)
                service_java = java25 if service in JAVA25_SERVICES else java
                pid = _STARTERS[service](settings, service_java, classpaths.get(service))
                procs.write_pid(pid_file(settings, service), pid)
        # The health budget starts once the services are launched: resolving jars on a cold machine
        # (Maven downloads, reported as progress) is a step of its own and must not eat into it.
        deadline = time.monotonic() + timeout
        timings.update(_wait_healthy(settings, SERVICES, began, deadline, progress))
        optional_started = _start_optional(settings, with_services, progress)
        report = None
        if run_init:
            report = init_schema(settings)
            timings["init"] = time.monotonic() - began
        if with_services:
            # Trino starts while the schema bootstrap runs; its own budget starts at its launch.
            timings.update(
                _wait_healthy(settings, with_services, began, time.monotonic() + timeout, progress)
            )
    optional_running = tuple(service for service in with_services if service not in optional_started)
    return UpReport(
        started=(*to_start, *optional_started),
        already_running=(*already_running, *optional_running),
        timings=timings,
        init=report,
    )


def _start_optional(settings: StackSettings, services: Sequence[str], progress: Progress) -> tuple[str, ...]:
    """Launch the optional services that are not running (Trino, once Nessie and s3proxy are healthy)."""
    to_start = [service for service in services if running_pid(settings, service) is None]
    for service in to_start:
        pid_file(settings, service).unlink(missing_ok=True)
    if not to_start:
        return ()
    _check_ports_free(settings, to_start)
    java25 = check_java25(settings)
    install = unpack_trino(settings, progress)
    for service in to_start:
        progress(f"starting {service}…")
        _mark_start(settings, service)
        procs.write_pid(pid_file(settings, service), _STARTERS[service](settings, java25, install))
    return tuple(to_start)


def down(
    settings: StackSettings,
    *,
    wipe: bool = False,
    only: Sequence[str] | None = None,
    timeout: float = 30.0,
    progress: Progress = log.info,
) -> dict[str, str]:
    """Stop services (SIGTERM, then SIGKILL after ``timeout``); data is kept unless ``wipe``.

    ``only`` limits which services are stopped (a test session stops only what it started). Returns
    per service "stopped", "killed" or "not running".
    """
    services = list(only) if only is not None else list(ALL_SERVICES)
    for service in services:
        _check_service(service)
    if wipe and only is not None:
        raise StackError("wipe removes the data of every service, so it cannot be limited to some")
    outcome: dict[str, str] = {}
    with _stack_lock(settings):
        pids = {service: running_pid(settings, service) for service in services}
        live = {service: pid for service, pid in pids.items() if pid is not None}
        if live:
            progress(f"stopping {', '.join(live)}…")
        ended = procs.stop_processes(live.values(), timeout)
        for service in services:
            pid = pids[service]
            outcome[service] = ended[pid] if pid is not None else "not running"
            pid_file(settings, service).unlink(missing_ok=True)
        if wipe:
            _wipe(settings, progress)
    return outcome


def _wipe(settings: StackSettings, progress: Progress) -> None:
    targets = [
        settings.kafka_dir,
        settings.cassandra_dir,
        settings.mariadb_dir,
        settings.connect_dir,
        settings.prometheus_dir,
        settings.s3proxy_dir,
        settings.nessie_dir,
        settings.iceberg_rest_dir,
        settings.trino_dir,
        settings.logs_dir,
    ]
    # The warehouse is stack data only when it lives under home; an external one is never touched.
    if settings.warehouse.is_relative_to(settings.home):
        targets.append(settings.warehouse)
    else:
        progress(f"keeping the external Paimon warehouse {settings.warehouse}")
    for target in targets:
        if target.exists():
            shutil.rmtree(target)
            progress(f"removed {target}")


def status(settings: StackSettings, timeout: float = 3.0) -> list[ServiceStatus]:
    """Per service: client port, pid (when started from this home), protocol-level health, detail.

    Optional services (Trino) are listed when they run from this home.
    """
    result = []
    optional = [service for service in OPTIONAL_SERVICES if running_pid(settings, service) is not None]
    for service in (*SERVICES, *optional):
        pid = running_pid(settings, service)
        healthy, detail = probe(settings, service, timeout=timeout)
        if healthy and pid is None:
            detail += f" (not started from {settings.home})"
        elif not healthy and pid is not None:
            detail = f"process running but not answering (starting?): {detail}"
        result.append(
            ServiceStatus(
                name=service, port=service_port(settings, service), pid=pid, healthy=healthy, detail=detail
            )
        )
    return result
