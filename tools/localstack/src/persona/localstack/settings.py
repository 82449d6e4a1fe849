"""Settings of the local real-services stack, built once at an entry point from an environment mapping."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from persona.localstack.errors import StackError

# The marker that identifies the repository root: the pinned classpaths live there.
_INFRA_MARKER = Path("infra/local/kafka/pom.xml")
_HEAP_PATTERN = re.compile(r"^(\d+)([mMgG])$")
# Cassandra is one of several JVMs on a small dev machine; more than 1 GiB buys nothing locally.
MAX_CASSANDRA_HEAP_MB = 1024


def heap_megabytes(value: str) -> int:
    """Parse a JVM heap size such as ``768M`` or ``1G`` into megabytes."""
    match = _HEAP_PATTERN.match(value.strip())
    if match is None:
        raise StackError(f"invalid heap size {value!r}: expected a number followed by M or G, e.g. 768M")
    amount, unit = int(match.group(1)), match.group(2).upper()
    return amount * 1024 if unit == "G" else amount


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
    explicit = env.get("PERSONA_JAVA")
    if explicit:
        return explicit
    java_home = env.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    # Left as the bare name when absent so settings can be built (and unit tested) anywhere; the
    # start-up path checks it and raises a StackError that says how to fix it.
    return shutil.which("java", path=env.get("PATH")) or "java"


def _int_env(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise StackError(f"{name}={raw!r} is not an integer") from None


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
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    cassandra_port: int = 9042
    cassandra_storage_port: int = 7000
    partitions: int = 4
    java: str = "java"
    mvn: str = "mvn"
    kafka_heap: str = "512M"
    cassandra_heap: str = "768M"
    # Passed to Maven as -Dmaven.repo.local; None uses Maven's own default (~/.m2/repository).
    maven_repo: Path | None = None

    def __post_init__(self) -> None:
        heap_megabytes(self.kafka_heap)
        if heap_megabytes(self.cassandra_heap) > MAX_CASSANDRA_HEAP_MB:
            raise StackError(f"cassandra heap {self.cassandra_heap} exceeds the local limit of 1G")
        if self.partitions < 1:
            raise StackError(f"partitions must be at least 1, got {self.partitions}")
        ports = self.ports
        for label, port in ports.items():
            if not 0 < port < 65536:
                raise StackError(f"{label} port {port} is out of range")
        if len(set(ports.values())) != len(ports):
            raise StackError(f"stack ports must be distinct, got {ports}")

    @classmethod
    def from_env(cls, env: Mapping[str, str], cwd: Path | None = None) -> StackSettings:
        """Build settings from an environment mapping (normally ``os.environ``) at an entry point."""
        cwd = (cwd if cwd is not None else Path(os.getcwd())).absolute()

        def path_from_env(name: str) -> Path | None:
            # Relative paths are taken from cwd; the result is absolute because the services run
            # with other working directories.
            value = env.get(name)
            return cwd / value if value else None

        repo_root = _default_repo_root(cwd)
        home = path_from_env("PERSONA_HOME") or (repo_root or cwd) / ".persona"
        warehouse = path_from_env("PERSONA_WAREHOUSE") or home / "warehouse"
        jar_cache = path_from_env("PERSONA_JAR_CACHE") or _default_cache_root(env) / "persona" / "jars"
        maven_repo = path_from_env("PERSONA_MAVEN_REPO")
        return cls(
            home=home,
            repo_root=repo_root,
            kafka_port=_int_env(env, "PERSONA_KAFKA_PORT", 9092),
            kafka_controller_port=_int_env(env, "PERSONA_KAFKA_CONTROLLER_PORT", 9093),
            cassandra_port=_int_env(env, "PERSONA_CASSANDRA_PORT", 9042),
            cassandra_storage_port=_int_env(env, "PERSONA_CASSANDRA_STORAGE_PORT", 7000),
            partitions=_int_env(env, "PERSONA_PARTITIONS", 4),
            warehouse=warehouse,
            java=_resolve_java(env),
            mvn=env.get("PERSONA_MVN") or shutil.which("mvn", path=env.get("PATH")) or "mvn",
            kafka_heap=env.get("PERSONA_KAFKA_HEAP") or "512M",
            cassandra_heap=env.get("PERSONA_CASSANDRA_HEAP") or "768M",
            jar_cache=jar_cache,
            maven_repo=maven_repo,
        )

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def cassandra_contact(self) -> tuple[str, int]:
        return ("127.0.0.1", self.cassandra_port)

    @property
    def ports(self) -> dict[str, int]:
        """Every TCP port the stack listens on, by what listens there."""
        return {
            "kafka": self.kafka_port,
            "kafka controller": self.kafka_controller_port,
            "cassandra": self.cassandra_port,
            "cassandra storage": self.cassandra_storage_port,
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
