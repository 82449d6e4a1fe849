"""The work of ``persona logic``: branch, replay, diff, merge and log of logic versions (DESIGN §6).

- ``branch``: Paimon branches of ``marketing_segments``, ``segment_decisions``, ``logic_versions`` and
  ``logic_releases``, created together from one origin (``persona.paimon.branches``).
- ``replay``: the retained history of the input topics (``behavior_events`` and ``orders_cdc`` from
  their retained start) decided again with a logic version by ``persona replay``'s pure core
  (``persona.replay.decide_stream``), the profiles of ``customer_profile`` as main holds it now and
  the stock Cassandra holds now, written into the branch's tables only. The version is stored and
  released on the branch's logic store.
- ``diff``: two branches' ``marketing_segments`` (``persona.logic.diff``), optionally as of a time.
- ``merge``: the branch's logic version made live on main: stored in main's logic store, released (who,
  when, why) and tagged ``release-<n>-<version>`` on main's tables. The enrich flow sees the release
  within ``PERSONA_PROFILE_REFRESH`` and re-decides every customer it holds with it, so main's rows turn
  to the new version as the sink's own writes. Why not a fast-forward of ``marketing_segments``:
  pypaimon's ``fast_forward`` is unusable once main moved on (``persona.paimon.branches``), and a second
  writer on main beside the running sink loses to it or beats it by Paimon's per-writer sequence
  numbers, not by time (measured: a merge writer's rows outlived the sink's later writes). The branch's
  tables stay as the dry run's record, tagged with the release too.
- ``log``: the versions and releases of main, and each branch's active version.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from persona.contracts import (
    BehaviorEvent,
    CustomerProfile,
    DecisionEnvelope,
    Err,
    OrderFact,
    parse_behavior_event,
    parse_order_changes,
)
from persona.decisions import LogicConfig
from persona.paimon import PaimonWarehouse, TableWriter
from persona.paimon.branches import MAIN, PaimonBranches, check_branch_name, on_branch
from persona.paimon.decision_rows import decisions_table, latest_segments
from persona.paimon.logic_store import LogicStore, Release, current_user
from persona.paimon.profiles import SNAPSHOT_LABEL_PREFIX, profiles_from_rows
from persona.paimon.schema import MARKETING_SEGMENTS, SEGMENT_DECISIONS
from persona.replay import ReplayStats, decide_stream, merge_stream
from persona.settings import PipelineSettings

log = logging.getLogger(__name__)

DECIDED_TABLES: Final = (MARKETING_SEGMENTS.name, SEGMENT_DECISIONS.name)
REPLAY_COMMIT_ROWS: Final = 20_000


class LogicError(RuntimeError):
    """A logic command cannot do what it was asked; the message says why and what to do."""


@dataclass
class RetainedInput:
    events: list[BehaviorEvent] = field(default_factory=list)
    facts: list[OrderFact] = field(default_factory=list)
    invalid: int = 0


def parse_retained(
    event_values: Iterable[bytes | None],
    order_values: Iterable[bytes | None],
    now_ms: int,
    settings: PipelineSettings,
) -> RetainedInput:
    """The valid records of the topics' retained values, by the stream's own parsers and input rules."""
    out = RetainedInput()
    window = settings.time_window
    for value in event_values:
        result = parse_behavior_event(value or b"", window, now_ms)
        if isinstance(result, Err):
            out.invalid += 1
        else:
            out.events.append(result.value)
    for value in order_values:
        facts = parse_order_changes(value or b"", window, now_ms)
        if isinstance(facts, Err):
            out.invalid += 1
        else:
            out.facts.extend(facts.value)
    return out


@dataclass(frozen=True)
class ReplayReport:
    branch: str
    logic_version: str
    events: int
    orders: int
    invalid: int
    decisions: int
    duplicates: int
    customers: int
    profile_label: str | None
    seconds: float


@dataclass(frozen=True)
class MergeReport:
    branch: str
    release: Release
    tags: dict[str, str]


def snapshot_at_or_before(snapshots: Iterable[Mapping[str, Any]], at_ms: int) -> int | None:
    """The id of the newest snapshot committed at or before ``at_ms`` (``time_millis``), else None."""
    best: int | None = None
    for snap in snapshots:
        if int(snap["time_millis"]) <= at_ms and (best is None or int(snap["id"]) > best):
            best = int(snap["id"])
    return best


def release_in_force(releases: Iterable[Release], at_ms: int) -> Release | None:
    """The newest release made at or before ``at_ms``."""
    made = [r for r in releases if r.released_at_ms <= at_ms]
    return max(made, key=lambda r: r.release) if made else None


class LogicWorkspace:
    """The branched tables and the logic store of one warehouse (``settings.table_suffix`` included)."""

    def __init__(self, settings: PipelineSettings) -> None:
        self.settings = settings
        self.warehouse = PaimonWarehouse(settings.warehouse)
        self.store = LogicStore(self.warehouse, settings.table_suffix)
        self.branches = PaimonBranches(self.warehouse)

    @property
    def segments_table(self) -> str:
        return self.settings.table(MARKETING_SEGMENTS.name)

    @property
    def decisions_table(self) -> str:
        return self.settings.table(SEGMENT_DECISIONS.name)

    @property
    def tables(self) -> list[str]:
        return [self.segments_table, self.decisions_table, *self.store.tables]

    def ensure(self) -> None:
        self.warehouse.ensure((MARKETING_SEGMENTS, SEGMENT_DECISIONS), name_suffix=self.settings.table_suffix)
        self.store.ensure()

    # --- branch -------------------------------------------------------------------------------------

    def create_branch(self, name: str, from_branch: str = MAIN) -> dict[str, int | None]:
        check_branch_name(name)
        self.ensure()
        return self.branches.create(self.tables, name, from_branch)

    def require_branch(self, name: str) -> None:
        if name == MAIN:
            return
        missing = [t for t in self.tables if not self.branches.exists(t, name)]
        if missing:
            raise LogicError(
                f"branch {name!r} does not exist on {', '.join(missing)}: create it with `persona logic branch {name}`"
            )

    def branch_names(self) -> list[str]:
        return self.branches.branches(self.segments_table)

    # --- replay -------------------------------------------------------------------------------------

    def profiles(self) -> tuple[dict[int, CustomerProfile], str | None]:
        """main's ``customer_profile`` now, each labelled as the enrich flow labels it (tag or snapshot)."""
        table = self.settings.table("customer_profile")
        snapshot = self.warehouse.latest_snapshot_id(table)
        if snapshot is None:
            return {}, None
        label = f"{SNAPSHOT_LABEL_PREFIX}{snapshot}"
        manager = self.warehouse.table(table).tag_manager()
        for name in manager.list_tags():
            tag = manager.get(name)
            if tag is not None and int(tag.id) == snapshot:
                label = str(name)
                break
        rows = self.warehouse.read_arrow(table, snapshot_id=snapshot).to_pylist()
        return profiles_from_rows(rows, label), label

    def replay(
        self,
        branch: str,
        logic: LogicConfig,
        retained: RetainedInput,
        stock: Callable[[set[str]], Mapping[str, int | None]],
        *,
        since_ms: int | None = None,
        by: str | None = None,
    ) -> ReplayReport:
        """Decide ``retained`` with ``logic`` into ``branch``'s tables (never main's)."""
        if branch == MAIN:
            raise LogicError(
                "replay writes a branch, never main: name the branch (`persona logic branch NAME`)"
            )
        self.require_branch(branch)
        started = time.perf_counter()
        self.store.register(logic, branch, by=by, description="replayed on this branch")
        self.store.release(logic.logic_version, branch, reason="persona logic replay", by=by)
        profiles, label = self.profiles()
        skus = {e.sku_id for e in retained.events if e.sku_id is not None}
        inventory = stock(skus)
        stats = ReplayStats()
        user = f"persona-logic-replay-{branch}"
        segments = TableWriter(self.warehouse, on_branch(self.segments_table, branch), user)
        audit = TableWriter(self.warehouse, on_branch(self.decisions_table, branch), user)
        customers: set[int] = set()
        try:
            envelopes: list[DecisionEnvelope] = []
            stream = merge_stream(retained.events, retained.facts)
            for number, _decision, decided in decide_stream(
                stream, profiles, inventory, logic, stats, since_ms=since_ms
            ):
                envelopes.append(DecisionEnvelope(number, decided))
                customers.add(decided.customer_id)
                if len(envelopes) >= REPLAY_COMMIT_ROWS:
                    self._write(envelopes, segments, audit)
                    envelopes = []
            self._write(envelopes, segments, audit)
        finally:
            segments.close()
            audit.close()
        return ReplayReport(
            branch,
            logic.logic_version,
            len(retained.events),
            len(retained.facts),
            retained.invalid,
            stats.decisions,
            stats.events_duplicate,
            len(customers),
            label,
            time.perf_counter() - started,
        )

    @staticmethod
    def _write(envelopes: list[DecisionEnvelope], segments: TableWriter, audit: TableWriter) -> None:
        if not envelopes:
            return
        rows = decisions_table(envelopes, audit.schema)
        audit.add_arrow(rows)
        segments.add_arrow(latest_segments(rows, segments.schema))
        segments.commit()
        audit.commit()

    # --- reading a branch, now or as of a time ------------------------------------------------------

    def snapshot_at(self, table: str, at_ms: int) -> int | None:
        """The newest snapshot of ``table`` (a branch's name included) committed at or before ``at_ms``."""
        return snapshot_at_or_before(self.warehouse.snapshots(table), at_ms)

    def read(
        self,
        table: str,
        branch: str,
        columns: list[str] | None = None,
        at_ms: int | None = None,
        tag: str | None = None,
    ) -> pa.Table:
        """``table`` on ``branch``: now, as of a time (the snapshot in force then), or at a tag."""
        name = on_branch(table, branch)
        if tag is not None:
            tags = self.warehouse.list_tags(name)
            if tag not in tags:
                raise LogicError(f"{name} has no tag {tag!r} (tags: {', '.join(tags) or 'none'})")
            return self.warehouse.read_arrow(name, columns=columns, tag=tag)
        if at_ms is None:
            return self.warehouse.read_arrow(name, columns=columns)
        snapshot = self.snapshot_at(name, at_ms)
        if snapshot is None:
            schema = self.warehouse.read_arrow(name, columns=columns).schema
            return schema.empty_table()
        return self.warehouse.read_arrow(name, columns=columns, snapshot_id=snapshot)

    def release_at(self, at_ms: int, branch: str = MAIN) -> Release | None:
        """The release in force on ``branch`` at ``at_ms`` (None: the built-in v1 was)."""
        return release_in_force(self.store.releases(branch), at_ms)

    def segments(self, branch: str, at_ms: int | None = None, tag: str | None = None) -> dict[int, str]:
        self.require_branch(branch)
        table = self.read(self.segments_table, branch, ["customer_id", "segment"], at_ms, tag)
        return dict(
            zip(table.column("customer_id").to_pylist(), table.column("segment").to_pylist(), strict=True)
        )

    def explanations(
        self, branch: str, customers: list[int], at_ms: int | None = None
    ) -> dict[int, dict[str, Any]]:
        """The newest ``segment_decisions`` row of each customer on ``branch`` (decided at/before ``at_ms``)."""
        if not customers:
            return {}
        table = self.read(self.decisions_table, branch, None, at_ms)
        table = table.filter(pc.is_in(table.column("customer_id"), value_set=pa.array(customers, pa.int64())))
        newest: dict[int, dict[str, Any]] = {}
        for row in table.to_pylist():
            if (
                at_ms is not None
                and row["decided_at"] is not None
                and row["decided_at"].timestamp() * 1000 > at_ms
            ):
                continue
            held = newest.get(row["customer_id"])
            key = (row["event_time"], row["decided_at"], row["version"] or 0)
            if held is None or key > (held["event_time"], held["decided_at"], held["version"] or 0):
                newest[row["customer_id"]] = row
        return newest

    # --- merge and log ------------------------------------------------------------------------------

    def merge(self, branch: str, *, reason: str, by: str | None = None) -> MergeReport:
        self.require_branch(branch)
        if branch == MAIN:
            raise LogicError("merge names a branch to merge into main")
        logic, release = self.store.active(branch)
        if release is None:
            raise LogicError(
                f"branch {branch!r} has no logic version of its own: `persona logic replay {branch} --logic V` first"
            )
        who = by or current_user()
        number = (self.store.releases(MAIN)[-1].release if self.store.releases(MAIN) else 0) + 1
        tag = f"release-{number}-{logic.logic_version}"
        self.store.register(logic, MAIN, by=who, description=f"merged from branch {branch}: {reason}")
        made = self.store.release(logic.logic_version, MAIN, origin=branch, reason=reason, by=who, tag=tag)
        tags: dict[str, str] = {}
        for table in (self.segments_table, self.decisions_table, self.store.releases_table):
            for on in (MAIN, branch):
                name = on_branch(table, on)
                snapshot = self.warehouse.latest_snapshot_id(name)
                if snapshot is not None:
                    self.warehouse.table(name).create_tag(tag, snapshot_id=snapshot, ignore_if_exists=True)
                    tags[name] = f"{tag} (snapshot {snapshot})"
        log.info(
            "released %s from %s on main as release %d (%s)", logic.logic_version, branch, made.release, tag
        )
        return MergeReport(branch, made, tags)

    def history(self) -> tuple[list[dict[str, Any]], list[Release], dict[str, str]]:
        """main's versions and releases, and the active version of every branch."""
        self.ensure()
        active: dict[str, str] = {MAIN: self.store.active(MAIN)[0].logic_version}
        for name in self.branches.branches(self.store.releases_table):
            active[name] = self.store.active(name)[0].logic_version
        return self.store.version_rows(MAIN), self.store.releases(MAIN), active
