"""Service classpaths: resolved once per machine from the pinned poms with Maven, then reused."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

from persona.localstack.errors import StackError
from persona.localstack.settings import StackSettings

# Written into the classpath directory only after Maven succeeded, before the directory is moved into
# place, so a directory without it (an interrupted resolution) is never used.
RESOLVED_MARKER = ".resolved"
_LABELS = {
    "kafka": "Kafka",
    "cassandra": "Cassandra",
    "connect": "Kafka Connect",
    "debezium": "Debezium",
    "s3proxy": "s3proxy",
    "nessie": "Nessie (~245 MB)",
    "trino": "Trino server tarball (~780 MB)",
}


def pom_digest(pom_text: bytes) -> str:
    """Short content hash of a pom: part of the cache directory name, so editing a pom re-resolves."""
    return hashlib.sha256(pom_text).hexdigest()[:16]


def classpath_dir(settings: StackSettings, name: str) -> Path:
    """Where the classpath of service ``name`` lives in the jar cache for the current pom."""
    pom = settings.infra_dir / name / "pom.xml"
    if not pom.is_file():
        raise StackError(f"pinned classpath {pom} is missing")
    return settings.jar_cache / f"{name}-{pom_digest(pom.read_bytes())}"


def resolve_classpath(settings: StackSettings, name: str, progress: Callable[[str], None]) -> Path:
    """The directory holding every runtime jar of service ``name``, resolving it first if needed."""
    target = classpath_dir(settings, name)
    if (target / RESOLVED_MARKER).is_file():
        return target
    mvn = shutil.which(settings.mvn)
    if mvn is None:
        raise StackError(
            f"Maven ({settings.mvn!r}) is needed once per machine to fetch the {_LABELS.get(name, name)} "
            "jars but was not found: install it (e.g. apt-get install maven) or set PERSONA_MVN"
        )
    progress(f"resolving {_LABELS.get(name, name)} classpath from Maven Central… (once per machine)")
    settings.jar_cache.mkdir(parents=True, exist_ok=True)
    staging = settings.jar_cache / f".{target.name}.{os.getpid()}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(settings.infra_dir / name / "pom.xml"),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    if settings.maven_repo is not None:
        command.append(f"-Dmaven.repo.local={settings.maven_repo}")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    # A classpath is jars; Trino's pom resolves one tarball (unpacked by unpack_trino).
    if result.returncode != 0 or (not any(staging.glob("*.jar")) and not any(staging.glob("*.tar.gz"))):
        shutil.rmtree(staging, ignore_errors=True)
        output = (result.stdout + result.stderr).strip().splitlines()[-30:]
        raise StackError(
            f"resolving the {name} classpath failed (mvn exit code {result.returncode}):\n"
            + "\n".join(output)
        )
    (staging / RESOLVED_MARKER).write_text(" ".join(command) + "\n")
    try:
        staging.rename(target)
    except OSError:
        # Another `up` resolved the same pom concurrently and won the rename; its copy is as good.
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / RESOLVED_MARKER).is_file():
            raise
    return target


def find_jar(directory: Path, prefix: str) -> Path:
    """The single jar named ``<prefix>-<version>.jar`` in a classpath directory."""
    matches = sorted(directory.glob(f"{prefix}-[0-9]*.jar"))
    if not matches:
        raise StackError(f"{prefix} jar not found in {directory}; delete that directory to re-resolve")
    return matches[-1]


# Written into the unpacked server directory only once every member was extracted.
UNPACKED_MARKER = ".unpacked"


def trino_member_wanted(name: str, top: str) -> bool:
    """Whether a member of Trino's tarball is unpacked: the server's lib/ and the Iceberg connector.

    The other plugins (~50 connectors and functions, most of the ~780 MB) are never configured here,
    and Trino loads every plugin directory at start-up: leaving them out saves minutes on two cores.
    """
    wanted = (f"{top}/lib/", f"{top}/plugin/iceberg/", f"{top}/NOTICE")
    return name.startswith(wanted)


def unpack_trino(settings: StackSettings, progress: Callable[[str], None]) -> Path:
    """The unpacked Trino server (its lib/ and plugin/iceberg/), resolving and unpacking it first if needed."""
    from persona.localstack.configs import TRINO_SERVER_DIR

    resolved = resolve_classpath(settings, "trino", progress)
    target = resolved / TRINO_SERVER_DIR
    if (target / UNPACKED_MARKER).is_file():
        return target
    tarballs = sorted(resolved.glob(f"{TRINO_SERVER_DIR}*.tar.gz"))
    if not tarballs:
        raise StackError(
            f"the Trino server tarball is missing from {resolved}; delete that directory to re-resolve"
        )
    progress(f"unpacking {tarballs[-1].name} (lib/ and the Iceberg connector; once per machine)…")
    staging = resolved / f".{TRINO_SERVER_DIR}.{os.getpid()}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        with tarfile.open(tarballs[-1], "r:gz") as archive:
            for member in archive:
                if trino_member_wanted(member.name, TRINO_SERVER_DIR):
                    archive.extract(member, staging, filter="data")
    except (OSError, tarfile.TarError) as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise StackError(
            f"unpacking {tarballs[-1]} failed: {error}; delete {resolved} to re-resolve"
        ) from None
    unpacked = staging / TRINO_SERVER_DIR
    if not any((unpacked / "lib").glob("*.jar")) or not any((unpacked / "plugin" / "iceberg").glob("*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        raise StackError(f"{tarballs[-1]} has no lib/ or plugin/iceberg/; delete {resolved} to re-resolve")
    (unpacked / UNPACKED_MARKER).write_text(f"{tarballs[-1].name}\n")
    try:
        unpacked.rename(target)
    except OSError:
        # Another `up` unpacked concurrently and won the rename; its copy is as good.
        if not (target / UNPACKED_MARKER).is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    # Maven's local repository keeps its own copy: this one would only double the disk used.
    tarballs[-1].unlink(missing_ok=True)
    return target
