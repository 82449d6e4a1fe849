"""The versioned store of logic versions: Paimon tables ``logic_versions`` and ``logic_releases``,
branch- and tag-aware like every Paimon table.

- ``logic_versions`` (key ``name``): a logic version's rules id and thresholds, as
  ``persona.decisions.logic_to_json``'s document, with who registered it, when and why.
- ``logic_releases`` (key ``release``): which version a branch runs from when: every ``logic merge``
  (and a branch's ``logic replay``) appends one, with who, when, why and the release tag.

The active version of a branch is the version of its newest release; a branch without a release runs
the built-in ``v1``. The enrich flow reads main's at start and follows new ``logic_releases`` snapshots
(``PaimonLogicSource``), the way the profile store follows ``customer_profile``.
"""

from __future__ import annotations

import getpass
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa

from persona.decisions import BUILTIN_VERSIONS, DEFAULT_CONFIG, LogicConfig, logic_from_json, logic_to_json
from persona.paimon.branches import MAIN, on_branch
from persona.paimon.catalog import PaimonWarehouse
from persona.paimon.schema import TableSpec

log = logging.getLogger(__name__)

LOGIC_VERSIONS: Final = TableSpec(
    name="logic_versions",
    schema=pa.schema(
        [
            pa.field("name", pa.string(), nullable=False),
            pa.field("rules", pa.string()),
            pa.field("config", pa.string()),
            pa.field("created_at", pa.timestamp("ms")),
            pa.field("created_by", pa.string()),
            pa.field("description", pa.string()),
        ]
    ),
    primary_keys=("name",),
    options={"bucket": "1"},
)

LOGIC_RELEASES: Final = TableSpec(
    name="logic_releases",
    schema=pa.schema(
        [
            pa.field("release", pa.int64(), nullable=False),
            pa.field("logic_version", pa.string()),
            pa.field("branch", pa.string()),
            pa.field("released_at", pa.timestamp("ms")),
            pa.field("released_by", pa.string()),
            pa.field("reason", pa.string()),
            pa.field("tag", pa.string()),
        ]
    ),
    primary_keys=("release",),
    options={"bucket": "1"},
)

LOGIC_TABLES: Final = (LOGIC_VERSIONS, LOGIC_RELEASES)


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (a container's uid): still say something
        return "unknown"


@dataclass(frozen=True)
class Release:
    release: int
    logic_version: str
    branch: str
    released_at_ms: int
    released_by: str
    reason: str
    tag: str | None


class LogicStore:
    """Logic versions and releases of one warehouse, on any branch (``suffix``: tests' private tables)."""

    def __init__(self, warehouse: PaimonWarehouse, suffix: str = "") -> None:
        self.warehouse = warehouse
        self.suffix = suffix

    @property
    def versions_table(self) -> str:
        return LOGIC_VERSIONS.name + self.suffix

    @property
    def releases_table(self) -> str:
        return LOGIC_RELEASES.name + self.suffix

    @property
    def tables(self) -> list[str]:
        return [self.versions_table, self.releases_table]

    def ensure(self) -> None:
        self.warehouse.ensure(LOGIC_TABLES, name_suffix=self.suffix)

    def _write(self, table: str, rows: list[dict[str, Any]], spec: TableSpec) -> int | None:
        target = self.warehouse.table(table)
        builder = target.new_batch_write_builder()
        write = builder.new_write()
        commit = builder.new_commit()
        try:
            write.write_arrow(pa.Table.from_pylist(rows, schema=spec.schema))
            commit.commit(write.prepare_commit())
        finally:
            write.close()
            commit.close()
        return self.warehouse.latest_snapshot_id(table)

    def versions(self, branch: str = MAIN) -> dict[str, LogicConfig]:
        rows = self.warehouse.read_arrow(on_branch(self.versions_table, branch)).to_pylist()
        return {str(r["name"]): logic_from_json(str(r["config"])) for r in rows}

    def version_rows(self, branch: str = MAIN) -> list[dict[str, Any]]:
        return sorted(
            self.warehouse.read_arrow(on_branch(self.versions_table, branch)).to_pylist(),
            key=lambda r: (r["created_at"] is None, r["created_at"], r["name"]),
        )

    def register(
        self, config: LogicConfig, branch: str = MAIN, *, by: str | None = None, description: str = ""
    ) -> None:
        """Store ``config`` under its name on ``branch`` (replacing a version of that name there)."""
        row = {
            "name": config.logic_version,
            "rules": config.rules,
            "config": logic_to_json(config),
            "created_at": int(time.time() * 1000),
            "created_by": by or current_user(),
            "description": description,
        }
        self._write(on_branch(self.versions_table, branch), [row], LOGIC_VERSIONS)

    def resolve(self, name: str, branch: str = MAIN) -> LogicConfig:
        """The version ``name`` as ``branch`` stores it, else the built-in one; KeyError if neither."""
        stored = self.versions(branch).get(name)
        if stored is not None:
            return stored
        builtin = BUILTIN_VERSIONS.get(name)
        if builtin is None:
            known = sorted(set(BUILTIN_VERSIONS) | set(self.versions(branch)))
            raise KeyError(f"unknown logic version {name!r} (known: {', '.join(known)})")
        return builtin

    def releases(self, branch: str = MAIN) -> list[Release]:
        rows = self.warehouse.read_arrow(on_branch(self.releases_table, branch)).to_pylist()
        out = [
            Release(
                int(r["release"]),
                str(r["logic_version"]),
                str(r["branch"]),
                0 if r["released_at"] is None else int(r["released_at"].timestamp() * 1000),
                str(r["released_by"]),
                str(r["reason"] or ""),
                r["tag"],
            )
            for r in rows
        ]
        return sorted(out, key=lambda r: r.release)

    def release(
        self,
        logic_version: str,
        branch: str = MAIN,
        *,
        origin: str | None = None,
        reason: str = "",
        by: str | None = None,
        tag: str | None = None,
    ) -> Release:
        """Make ``logic_version`` the active version of ``branch`` (it must be stored there): one more
        ``logic_releases`` row. ``origin``: the branch it came from (default ``branch``)."""
        if logic_version not in self.versions(branch):
            raise KeyError(f"logic version {logic_version!r} is not stored on branch {branch!r}")
        previous = self.releases(branch)
        number = (previous[-1].release if previous else 0) + 1
        now = int(time.time() * 1000)
        release = Release(number, logic_version, origin or branch, now, by or current_user(), reason, tag)
        row = {
            "release": number,
            "logic_version": logic_version,
            "branch": release.branch,
            "released_at": now,
            "released_by": release.released_by,
            "reason": reason,
            "tag": tag,
        }
        self._write(on_branch(self.releases_table, branch), [row], LOGIC_RELEASES)
        return release

    def active(self, branch: str = MAIN) -> tuple[LogicConfig, Release | None]:
        """The version ``branch`` runs, and the release that made it active (None: built-in v1)."""
        releases = self.releases(branch)
        if not releases:
            return DEFAULT_CONFIG, None
        newest = releases[-1]
        return self.resolve(newest.logic_version, branch), newest

    def releases_snapshot(self, branch: str = MAIN) -> int | None:
        return self.warehouse.latest_snapshot_id(on_branch(self.releases_table, branch))


class PaimonLogicSource:
    """The active logic version of a branch (main for the flows), reloaded when a new release is
    committed: checked every ``refresh_seconds`` with one read of the releases table's snapshot hint.

    A store that cannot be read (not created yet, a transient error) keeps the version in use, and
    says so in the log once per failure streak; before any read succeeds that is ``fallback``.
    """

    def __init__(
        self,
        store: LogicStore,
        *,
        branch: str = MAIN,
        refresh_seconds: float = 5.0,
        fallback: LogicConfig = DEFAULT_CONFIG,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._branch = branch
        self._refresh = refresh_seconds
        self._clock = clock
        self._config = fallback
        self._snapshot: int | None = None
        self._checked_at = float("-inf")
        self._failing = False
        self.loads = 0

    def current(self) -> LogicConfig:
        return self._config

    def maybe_refresh(self) -> bool:
        """Reload if a newer release snapshot exists and the interval passed; True if the version changed."""
        now = self._clock()
        if now - self._checked_at < self._refresh:
            return False
        self._checked_at = now
        try:
            snapshot = self._store.releases_snapshot(self._branch)
            if snapshot is None or snapshot == self._snapshot:
                self._failing = False
                return False
            config, release = self._store.active(self._branch)
        except Exception as error:
            if not self._failing:
                log.warning(
                    "cannot read the logic store (%s); deciding with %s meanwhile",
                    error,
                    self._config.logic_version,
                )
            self._failing = True
            return False
        self._failing = False
        self._snapshot = snapshot
        self.loads += 1
        changed = config != self._config
        if changed:  # the same version reloaded keeps its object: callers compare by identity
            self._config = config
            log.info(
                "logic version %s is now active on %s (release %s)",
                config.logic_version,
                self._branch,
                None if release is None else release.release,
            )
        return changed
