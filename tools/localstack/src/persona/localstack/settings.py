"""Settings of the local real-services stack, built once at an entry point from an environment mapping.

Each value is a ``persona.settings.registry`` setting, which declares its variable, parser and default.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from persona.localstack.errors import StackError
from persona.settings import Setting, SettingsError
from persona.settings.registry import (
    CASSANDRA_HEAP,
    CASSANDRA_PORT,
    CASSANDRA_STORAGE_PORT,
    CDC_PASSWORD,
    CDC_USER,
    CONNECT_HEAP,
    CONNECT_PORT,
    CRM_DATABASE,
    CRM_HOST,
    CRM_PASSWORD,
    CRM_USER,
    HOME,
    ICEBERG_REST_PORT,
    JAR_CACHE,
    JAVA,
    JAVA25,
    KAFKA_CONTROLLER_PORT,
    KAFKA_HEAP,
    KAFKA_PORT,
    LOCALHOST,
    MARIADB_PORT,
    MARIADBD,
    MAVEN_REPO,
    MVN,
    NESSIE_HEAP,
    NESSIE_PORT,
    PARTITIONS,
    PROMETHEUS,
    PROMETHEUS_PORT,
    S3_ACCESS_KEY,
    S3_PORT,
    S3_SECRET_KEY,
    TRINO_HEAP,
    TRINO_PORT,
    WAREHOUSE,
    default_warehouse,
    local_bootstrap,
)
from persona.settings.secret import Secret
from persona.settings.security import CassandraSecurity, KafkaSecurity

# The marker that identifies the repository root: the pinned classpaths live there.
_INFRA_MARKER = Path("infra/local/kafka/pom.xml")
# The commands looked up on PATH when their variable is not set. Left as the bare name when absent so
# settings can be built (and unit tested) anywhere; the start-up path checks them and raises a
# StackError that says how to fix it.
JAVA_COMMAND = "java"
MVN_COMMAND = "mvn"
MARIADBD_COMMAND = "mariadbd"
PROMETHEUS_COMMAND = "prometheus"
# Debian installs the server in /usr/sbin, which is not on every user's PATH.
MARIADBD_DIRS = ("/usr/sbin", "/usr/local/sbin")
# Where Debian (and the Temurin packages) install JDKs; Nessie and Trino need a newer one than Kafka.
JVM_DIR = Path("/usr/lib/jvm")
JAVA25_MAJOR = 25


def find_repo_root(start: Path) -> Path | None:
    """The nearest ancestor of ``start`` (inclusive) holding the pinned stack classpaths, if any."""
    for candidate in (start, *start.parents):
        if (candidate / _INFRA_MARKER).is_file():
            return candidate
    return None


def _default_repo_root(cwd: Path) -> Path | None:
    # The working directory wins so a checkout's own `.persona/` is used when running inside it; the
    # package location is the fallback for running the CLI from elsewhere with an editable install.
    return find_repo_root(cwd) or find_repo_root(Path(__file__).resolve().parent)


def _default_cache_root(env: Mapping[str, str]) -> Path:
    xdg = env.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg)
    home = env.get("HOME")
    return Path(home) / ".cache" if home else Path.home() / ".cache"


def _resolve_java(env: Mapping[str, str]) -> str:
    explicit = JAVA.given(env)
    if explicit:
        return explicit
    java_home = env.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which(JAVA_COMMAND, path=env.get("PATH")) or JAVA_COMMAND


def _jdk_major_from_name(name: str) -> int | None:
    """The Java major version a JDK directory's name announces (``temurin-25-jdk-amd64`` -> 25)."""
    for part in name.replace("_", "-").split("-"):
        if part.isdigit() and 8 <= int(part) < 100:
            return int(part)
        if part.startswith("1.") and part[2:].split(".")[0].isdigit():
            return int(part[2:].split(".")[0])
    return None


def _resolve_java25(env: Mapping[str, str], jvm_dir: Path = JVM_DIR) -> str:
    """PERSONA_JAVA25, else the newest JDK of major 25+ under /usr/lib/jvm, else PERSONA_JAVA's.

    Whether the one found really is 25+ is checked (``java -version``) before it starts a service.
    """
    explicit = JAVA25.given(env)
    if explicit:
        return explicit
    candidates: list[tuple[int, str]] = []
    if jvm_dir.is_dir():
        for home in jvm_dir.iterdir():
            major = _jdk_major_from_name(home.name)
            if major is not None and major >= JAVA25_MAJOR and (home / "bin" / "java").is_file():
                candidates.append((major, str(home / "bin" / "java")))
    if candidates:
        return max(candidates)[1]
    return _resolve_java(env)


def _resolve_mariadbd(env: Mapping[str, str]) -> str:
    explicit = MARIADBD.given(env)
    if explicit:
        return explicit
    search = os.pathsep.join([env.get("PATH", ""), *MARIADBD_DIRS])
    return shutil.which(MARIADBD_COMMAND, path=search) or MARIADBD_COMMAND


def _resolve_prometheus(env: Mapping[str, str]) -> str:
    return (
        PROMETHEUS.given(env) or shutil.which(PROMETHEUS_COMMAND, path=env.get("PATH")) or PROMETHEUS_COMMAND
    )


@dataclass(frozen=True, kw_only=True)
class StackSettings:
    """Where the local stack keeps its state and which ports and resources it uses.

    Build it with :meth:`from_env` at an entry point; the constructor is for tests and tools that need
    a second, isolated stack (another home and ports).
    """

    home: Path
    warehouse: Path
    jar_cache: Path
    repo_root: Path | None
    kafka_port: int = KAFKA_PORT.default
    kafka_controller_port: int = KAFKA_CONTROLLER_PORT.default
    cassandra_port: int = CASSANDRA_PORT.default
    cassandra_storage_port: int = CASSANDRA_STORAGE_PORT.default
    mariadb_port: int = MARIADB_PORT.default
    connect_port: int = CONNECT_PORT.default
    prometheus_port: int = PROMETHEUS_PORT.default
    nessie_port: int = NESSIE_PORT.default
    s3_port: int = S3_PORT.default
    trino_port: int = TRINO_PORT.default
    iceberg_rest_port: int = ICEBERG_REST_PORT.default
    partitions: int = PARTITIONS.default
    java: str = JAVA_COMMAND
    # Nessie 0.99 is built for Java 21 and Trino 476 needs Java 24: both run on this one.
    java25: str = JAVA_COMMAND
    mvn: str = MVN_COMMAND
    kafka_heap: str = KAFKA_HEAP.default
    cassandra_heap: str = CASSANDRA_HEAP.default
    connect_heap: str = CONNECT_HEAP.default
    nessie_heap: str = NESSIE_HEAP.default
    trino_heap: str = TRINO_HEAP.default
    # Passed to Maven as -Dmaven.repo.local; None uses Maven's own default (~/.m2/repository).
    maven_repo: Path | None = MAVEN_REPO.default
    mariadbd: str = MARIADBD_COMMAND
    prometheus: str = PROMETHEUS_COMMAND
    # The CRM database and its two users (`stack init` creates them): persona's read/write user and
    # Debezium's replication-only user.
    # Where persona's CRM clients connect (the stack's own MariaDB by default); the stack administers
    # its own server through the socket whatever this says.
    crm_host: str = CRM_HOST.default
    crm_database: str = CRM_DATABASE.default
    crm_user: str = CRM_USER.default
    crm_password: Secret = CRM_PASSWORD.default
    cdc_user: str = CDC_USER.default
    cdc_password: Secret = CDC_PASSWORD.default
    # The local object store's credentials (s3proxy's identity and credential); Nessie and the
    # Iceberg clients use the same pair.
    s3_access_key: str = S3_ACCESS_KEY.default
    s3_secret_key: Secret = S3_SECRET_KEY.default
    # How the stack's own clients (health probes, `stack init`, tools and tests) connect: a stack whose
    # services require SASL/TLS or a password is reached with the same settings as the flows.
    kafka_security: KafkaSecurity = field(default_factory=KafkaSecurity)
    cassandra_security: CassandraSecurity = field(default_factory=CassandraSecurity)

    def __post_init__(self) -> None:
        # A constructed stack (tests, a second stack for a benchmark) obeys the rules its variables do.
        try:
            for setting, value in self._validated():
                setting.check(value)
        except SettingsError as error:
            raise StackError(str(error)) from None
        ports = self.ports
        if len(set(ports.values())) != len(ports):
            raise StackError(f"stack ports must be distinct, got {ports}")

    def _validated(self) -> Iterator[tuple[Setting[Any], object]]:
        yield KAFKA_PORT, self.kafka_port
        yield KAFKA_CONTROLLER_PORT, self.kafka_controller_port
        yield CASSANDRA_PORT, self.cassandra_port
        yield CASSANDRA_STORAGE_PORT, self.cassandra_storage_port
        yield MARIADB_PORT, self.mariadb_port
        yield CONNECT_PORT, self.connect_port
        yield PROMETHEUS_PORT, self.prometheus_port
        yield NESSIE_PORT, self.nessie_port
        yield S3_PORT, self.s3_port
        yield TRINO_PORT, self.trino_port
        yield ICEBERG_REST_PORT, self.iceberg_rest_port
        yield NESSIE_HEAP, self.nessie_heap
        yield TRINO_HEAP, self.trino_heap
        yield CONNECT_HEAP, self.connect_heap
        yield PARTITIONS, self.partitions
        yield KAFKA_HEAP, self.kafka_heap
        yield CASSANDRA_HEAP, self.cassandra_heap

    @classmethod
    def from_env(cls, env: Mapping[str, str], cwd: Path | None = None) -> StackSettings:
        """Build settings from an environment mapping (normally ``os.environ``) at an entry point."""
        cwd = (cwd if cwd is not None else Path(os.getcwd())).absolute()
        repo_root = _default_repo_root(cwd)
        try:
            # Relative paths are taken from cwd; the result is absolute because the services run
            # with other working directories.
            given_home = HOME.given(env)
            home = cwd / given_home if given_home else (repo_root or cwd) / HOME.default
            warehouse = WAREHOUSE.given(env)
            jar_cache = JAR_CACHE.given(env)
            maven_repo = MAVEN_REPO.given(env)
            return cls(
                home=home,
                repo_root=repo_root,
                kafka_port=KAFKA_PORT.get(env),
                kafka_controller_port=KAFKA_CONTROLLER_PORT.get(env),
                cassandra_port=CASSANDRA_PORT.get(env),
                cassandra_storage_port=CASSANDRA_STORAGE_PORT.get(env),
                mariadb_port=MARIADB_PORT.get(env),
                connect_port=CONNECT_PORT.get(env),
                prometheus_port=PROMETHEUS_PORT.get(env),
                nessie_port=NESSIE_PORT.get(env),
                s3_port=S3_PORT.get(env),
                trino_port=TRINO_PORT.get(env),
                iceberg_rest_port=ICEBERG_REST_PORT.get(env),
                nessie_heap=NESSIE_HEAP.get(env),
                trino_heap=TRINO_HEAP.get(env),
                s3_access_key=S3_ACCESS_KEY.get(env),
                s3_secret_key=S3_SECRET_KEY.get(env),
                java25=_resolve_java25(env),
                prometheus=_resolve_prometheus(env),
                connect_heap=CONNECT_HEAP.get(env),
                mariadbd=_resolve_mariadbd(env),
                crm_host=CRM_HOST.get(env),
                crm_database=CRM_DATABASE.get(env),
                crm_user=CRM_USER.get(env),
                crm_password=CRM_PASSWORD.get(env),
                cdc_user=CDC_USER.get(env),
                cdc_password=CDC_PASSWORD.get(env),
                partitions=PARTITIONS.get(env),
                warehouse=cwd / warehouse if warehouse else default_warehouse(home),
                java=_resolve_java(env),
                mvn=MVN.given(env) or shutil.which(MVN_COMMAND, path=env.get("PATH")) or MVN_COMMAND,
                kafka_heap=KAFKA_HEAP.get(env),
                cassandra_heap=CASSANDRA_HEAP.get(env),
                jar_cache=cwd / jar_cache if jar_cache else _default_cache_root(env) / "persona" / "jars",
                maven_repo=cwd / maven_repo if maven_repo else None,
                kafka_security=KafkaSecurity.from_env(env),
                cassandra_security=CassandraSecurity.from_env(env),
            )
        except SettingsError as error:
            raise StackError(str(error)) from None

    @property
    def kafka_bootstrap(self) -> str:
        return local_bootstrap(self.kafka_port)

    @property
    def cassandra_contact(self) -> tuple[str, int]:
        return (LOCALHOST, self.cassandra_port)

    @property
    def ports(self) -> dict[str, int]:
        """Every TCP port the stack listens on, by what listens there."""
        return {
            "kafka": self.kafka_port,
            "kafka controller": self.kafka_controller_port,
            "cassandra": self.cassandra_port,
            "cassandra storage": self.cassandra_storage_port,
            "mariadb": self.mariadb_port,
            "connect": self.connect_port,
            "prometheus": self.prometheus_port,
            "s3proxy": self.s3_port,
            "nessie": self.nessie_port,
            "trino": self.trino_port,
            "iceberg-rest": self.iceberg_rest_port,
        }

    @property
    def infra_dir(self) -> Path:
        """``infra/local`` of the checkout: the pinned poms and logging configs."""
        if self.repo_root is None:
            raise StackError(
                f"cannot find {_INFRA_MARKER} above the working directory or the installed package; "
                "run persona from inside the repository checkout"
            )
        return self.repo_root / "infra" / "local"

    # Layout under home. One place so up/down/status/wipe agree on it.
    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def kafka_dir(self) -> Path:
        return self.home / "kafka"

    @property
    def cassandra_dir(self) -> Path:
        return self.home / "cassandra"

    @property
    def connect_dir(self) -> Path:
        return self.home / "connect"

    @property
    def mariadb_dir(self) -> Path:
        return self.home / "mariadb"

    @property
    def prometheus_dir(self) -> Path:
        return self.home / "prometheus"

    @property
    def prometheus_targets_dir(self) -> Path:
        """Prometheus's file_sd directory: one ``<name>.json`` per metrics endpoint to scrape.

        Whatever starts a flow (the demo, the bench, ``persona run``) drops a file here for its metrics
        port; Prometheus picks new, changed and removed files up without a restart.
        """
        return self.prometheus_dir / "targets"

    @property
    def prometheus_rules_dir(self) -> Path:
        """``infra/prometheus/rules`` of the checkout: the alert rules Prometheus loads at start."""
        return self.infra_dir.parent / "prometheus" / "rules"

    @property
    def prometheus_url(self) -> str:
        return f"http://{LOCALHOST}:{self.prometheus_port}"

    @property
    def s3proxy_dir(self) -> Path:
        return self.home / "s3proxy"

    @property
    def s3_data_dir(self) -> Path:
        """s3proxy's filesystem backend: one directory per bucket."""
        return self.s3proxy_dir / "data"

    @property
    def s3_endpoint(self) -> str:
        return f"http://{LOCALHOST}:{self.s3_port}"

    @property
    def nessie_dir(self) -> Path:
        return self.home / "nessie"

    @property
    def nessie_url(self) -> str:
        """The Nessie server's root: REST API under ``/api/v1``/``/api/v2``, Iceberg REST under ``/iceberg``."""
        return f"http://{LOCALHOST}:{self.nessie_port}"

    @property
    def iceberg_rest_dir(self) -> Path:
        """The history catalog's home: its SQLite catalog database (table pointers, not data)."""
        return self.home / "iceberg-rest"

    @property
    def iceberg_rest_url(self) -> str:
        """The history catalog's Iceberg REST root (``/v1/config``, ``/v1/namespaces``…)."""
        return f"http://{LOCALHOST}:{self.iceberg_rest_port}"

    @property
    def trino_dir(self) -> Path:
        return self.home / "trino"

    @property
    def trino_url(self) -> str:
        return f"http://{LOCALHOST}:{self.trino_port}"

    @property
    def mariadb_socket(self) -> Path:
        """The server's Unix socket: the stack administers MariaDB as root through it, never over TCP.

        Under ``run_dir`` (short) rather than the data directory: a socket path is limited to 107 bytes.
        """
        return self.run_dir / "mariadb.sock"
