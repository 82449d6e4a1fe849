"""The Iceberg publication of persona's Paimon tables into Nessie (DESIGN §6, README "The Iceberg
publication").

One publication takes a Paimon snapshot of each table (``marketing_segments``, ``customer_profile``,
``segment_decisions``) of one Paimon branch and makes the Iceberg table of the same name on the
matching Nessie branch hold exactly its rows, with the erased customers' past rows left out. It writes
on a short-lived work branch (``<prefix>publish-<id>``, from the target's head) and merges it into the
target in **one Nessie commit** whose message names the Paimon snapshots and tags, so a reader of the
branch sees all the tables of a publication or none, and ``nessie log`` says what each commit holds.
A table whose snapshot is published already (its Iceberg properties say so, ``persona.publish.plan``)
is not written again; when nothing is to be written, nothing is committed.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
from pyiceberg.catalog import Catalog

from persona.iceberg import IcebergError, S3Options, replace_contents, rest_catalog, table_properties
from persona.nessie import NO_ANCESTOR, NessieError, NessieRest, Reference, ReferenceNotFound
from persona.paimon import PaimonError, PaimonWarehouse, latest_erasures
from persona.publish.erasure import without_erased
from persona.publish.history import HistoryCatalog, HistoryOutcome
from persona.publish.plan import (
    MAIN,
    MARK_SNAPSHOT,
    MARK_TABLE,
    MARK_WAREHOUSE,
    NAMESPACE,
    PUBLISHED_TABLES,
    WORK_BRANCH_PREFIX,
    Source,
    branch_of,
    choose_snapshot,
    commit_message,
    decide,
    erasures_mark,
    is_older,
    marks,
    nessie_ref,
    paimon_name,
    pending_rfm_tags,
    published_source,
)
from persona.settings import PipelineSettings
from persona.settings.registry import (
    HISTORY_CATALOG,
    ICEBERG_REST_PORT,
    ICEBERG_REST_URL,
    LOCALHOST,
    NESSIE_PORT,
    NESSIE_REF_PREFIX,
    NESSIE_URL,
    PUBLICATION,
    S3_ACCESS_KEY,
    S3_ENDPOINT,
    S3_PORT,
    S3_SECRET_KEY,
)

log = logging.getLogger(__name__)

ERASURES_TABLE = "erasures"
PROFILE_TABLE = "customer_profile"


class PublishError(RuntimeError):
    """A publication could not be made; the message says which service or table, and why."""


@dataclass(frozen=True)
class PublishSettings:
    pipeline: PipelineSettings
    nessie_url: str
    s3: S3Options
    ref_prefix: str = ""
    enabled: bool = True
    # The history catalog main is also published into (None: off): see persona.publish.history.
    history_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PublishSettings:
        return cls(
            pipeline=PipelineSettings.from_env(env),
            nessie_url=NESSIE_URL.given(env) or f"http://{LOCALHOST}:{NESSIE_PORT.get(env)}",
            s3=S3Options(
                endpoint=S3_ENDPOINT.given(env) or f"http://{LOCALHOST}:{S3_PORT.get(env)}",
                access_key=S3_ACCESS_KEY.get(env),
                secret_key=S3_SECRET_KEY.get(env).reveal(),
            ),
            ref_prefix=NESSIE_REF_PREFIX.get(env),
            enabled=PUBLICATION.get(env) == "on",
            history_url=None
            if HISTORY_CATALOG.get(env) == "off"
            else ICEBERG_REST_URL.given(env) or f"http://{LOCALHOST}:{ICEBERG_REST_PORT.get(env)}",
        )


@dataclass(frozen=True)
class TableOutcome:
    """What one publication did with one table: ``published``, ``unchanged`` or ``skipped``."""

    table: str
    action: str
    why: str
    source: Source | None = None
    rows: int = 0
    erased_rows: int = 0
    seconds: float = 0.0

    def describe(self) -> str:
        what = self.source.describe() if self.source is not None else self.table
        if self.action == "published":
            erased = f", {self.erased_rows} erased rows left out" if self.erased_rows else ""
            return f"{what}: published {self.rows:,} rows ({self.why}{erased}) in {self.seconds:.1f}s"
        return f"{what}: {self.action} ({self.why})"


@dataclass(frozen=True)
class PublishReport:
    ref: str
    outcomes: list[TableOutcome]
    commit: str | None = None
    message: str | None = None
    tag: str | None = None
    notes: list[str] = field(default_factory=list)
    # What main's publication did in the history catalog (empty: another branch, or history off).
    history: list[HistoryOutcome] = field(default_factory=list)

    @property
    def published(self) -> list[TableOutcome]:
        return [o for o in self.outcomes if o.action == "published"]

    def lines(self) -> list[str]:
        out = [f"nessie {self.ref}: {o.describe()}" for o in self.outcomes]
        out += [f"nessie {self.ref}: {note}" for note in self.notes]
        if self.commit is None:
            out.append(f"nessie {self.ref}: nothing to commit")
        else:
            out.append(f"nessie {self.ref}: commit {self.commit[:12]} {self.message}")
        if self.tag is not None:
            out.append(f"nessie: tag {self.tag}")
        out += [f"history main: {outcome.describe()}" for outcome in self.history]
        return out


class Publisher:
    """Publishes the Paimon tables of ``settings.pipeline.warehouse`` into the Nessie at
    ``settings.nessie_url`` (Iceberg REST catalog under ``/iceberg/<ref>``, data files on ``settings.s3``)."""

    def __init__(self, settings: PublishSettings, progress: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.nessie = NessieRest(settings.nessie_url, timeout=30.0)
        self.warehouse = PaimonWarehouse(settings.pipeline.warehouse)
        self._progress = progress or log.info
        self.history = (
            None if settings.history_url is None else HistoryCatalog(settings.history_url, settings.s3)
        )

    # --- names ---------------------------------------------------------------------------------------

    def ref(self, paimon_ref: str) -> str:
        return nessie_ref(self.settings.ref_prefix, paimon_ref)

    def identifier(self, table: str) -> str:
        """The Iceberg table of a published table's base name (``marketing_segments``)."""
        return _identifier(self.settings.pipeline.table(table))

    def catalog(self, ref: str) -> Catalog:
        return rest_catalog(f"{self.settings.nessie_url.rstrip('/')}/iceberg/{ref}", self.settings.s3)

    # --- services ------------------------------------------------------------------------------------

    def check_reachable(self, *, history: bool = True) -> None:
        """A clear error now, rather than a stack trace from pyiceberg halfway through a publication.

        ``history=False`` leaves the history catalog out: it holds main only, so a step that writes a
        logic branch (its creation, a replay's publication) does not need it up."""
        try:
            self.nessie.server_config()
        except NessieError as error:
            raise PublishError(f"{error} (is it running? `persona stack status`)") from None
        endpoint = self.settings.s3.endpoint
        try:
            with urllib.request.urlopen(endpoint, timeout=5.0):
                pass
        except urllib.error.HTTPError:
            pass  # it answered (an anonymous request is refused): it is up
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise PublishError(
                f"the S3 endpoint of the Iceberg data files {endpoint} is unreachable: {reason} "
                "(is s3proxy running? `persona stack status`)"
            ) from None
        if history and self.history is not None:
            url = f"{self.history.uri}/v1/config"
            try:
                with urllib.request.urlopen(url, timeout=5.0):
                    pass
            except (urllib.error.URLError, OSError) as error:
                reason = getattr(error, "reason", error)
                raise PublishError(
                    f"the history catalog {self.history.uri} is unreachable: {reason} (is iceberg-rest "
                    "running? `persona stack status`; PERSONA_HISTORY_CATALOG=off publishes Nessie only)"
                ) from None

    def ensure_ref(self, paimon_ref: str) -> Reference:
        """The Nessie branch of a Paimon branch, created when missing: ``<prefix>main`` from Nessie's
        default branch, any other from ``<prefix>main``."""
        name = self.ref(paimon_ref)
        try:
            return self.nessie.reference(name)
        except ReferenceNotFound:
            pass
        if paimon_ref == MAIN:
            origin = self.nessie.server_config().default_branch
        else:
            origin = self.ensure_ref(MAIN).name
        self._progress(f"nessie: branch {name} did not exist: created from {origin}")
        return self.nessie.create_branch(name, from_ref=origin)

    # --- what to publish -----------------------------------------------------------------------------

    def erasures(self) -> dict[int, int]:
        """The erased customers (main's ``erasures`` table: erasures are recorded on main only)."""
        name = self.settings.pipeline.table(ERASURES_TABLE)
        if not self._exists(name):
            return {}
        return latest_erasures(self.warehouse.read_arrow(name, columns=["customer_id", "requested_at"]))

    def _exists(self, name: str) -> bool:
        database = self.warehouse.database
        self.warehouse.catalog.create_database(database, True)
        base = name.split("$", 1)[0]
        if base not in set(self.warehouse.catalog.list_tables(database)):
            return False
        branch = branch_of(name)
        if branch != MAIN:
            return bool(self.warehouse.table(base).branch_manager().branch_exists(branch))
        return True

    def source(
        self, table: str, branch: str, *, snapshot: int | None, tag: str | None
    ) -> Source | TableOutcome:
        """The Paimon snapshot of ``table`` on ``branch`` to publish, or why there is none."""
        base = self.settings.pipeline.table(table)
        name = paimon_name(base, branch)
        if not self._exists(name):
            why = "no such Paimon table" if branch == MAIN else f"no Paimon branch {branch}"
            return TableOutcome(base, "skipped", why)
        tag_snapshot: int | None = None
        if tag is not None:
            found = self.warehouse.table(name).tag_manager().get(tag)
            tag_snapshot = None if found is None else int(found.id)
        chosen, by_tag, note = choose_snapshot(
            snapshot=snapshot,
            tag=tag,
            tag_snapshot=tag_snapshot,
            latest=self.warehouse.latest_snapshot_id(name),
        )
        if chosen is None:
            return TableOutcome(base, "skipped", note)
        if note:
            self._progress(f"{name}: {note} {chosen}")
        return Source(base, branch, chosen, by_tag, self.warehouse.warehouse)

    # --- publishing ----------------------------------------------------------------------------------

    def publish(
        self,
        tables: Iterable[str] = PUBLISHED_TABLES,
        branch: str = MAIN,
        *,
        snapshot: int | None = None,
        tag: str | None = None,
    ) -> PublishReport:
        """:meth:`publish_now`, with every Nessie, Iceberg or Paimon failure a PublishError naming it."""
        try:
            return self.publish_now(tables, branch, snapshot=snapshot, tag=tag)
        except PublishError:
            raise
        except (NessieError, IcebergError, PaimonError) as error:
            raise PublishError(str(error)) from None

    def publish_now(
        self,
        tables: Iterable[str] = PUBLISHED_TABLES,
        branch: str = MAIN,
        *,
        snapshot: int | None = None,
        tag: str | None = None,
    ) -> PublishReport:
        """Publish ``tables`` of Paimon ``branch`` onto its Nessie branch: each at ``snapshot`` (one
        table only), at its Paimon ``tag`` when it has it, else at its latest snapshot. With ``tag``,
        the Nessie tag ``<prefix><tag>`` is then set on the result (moved if it existed)."""
        names = list(tables)
        if snapshot is not None and len(names) != 1:
            raise PublishError("--snapshot names one table's snapshot: give exactly one table (--tables T)")
        self.check_reachable(history=branch == MAIN)
        target = self.ensure_ref(branch)
        catalog = self.catalog(target.name)
        erased = self.erasures()
        mark = erasures_mark(erased)
        outcomes: list[TableOutcome] = []
        todo: list[tuple[Source, str]] = []
        sources: list[Source] = []
        written: dict[str, pa.Table] = {}
        older = False
        for table in names:
            chosen = self.source(table, branch, snapshot=snapshot, tag=tag)
            if isinstance(chosen, TableOutcome):
                outcomes.append(chosen)
                continue
            sources.append(chosen)
            held = self._properties(catalog, chosen.table)  # the suffixed name
            decision = decide(held, chosen, mark)
            older = older or (tag is not None and is_older(held, chosen))
            if decision.publish:
                todo.append((chosen, decision.why))
            else:
                outcomes.append(TableOutcome(chosen.table, "unchanged", decision.why, chosen))
        nessie_tag = None if tag is None else self.ref(tag)
        order = [self.settings.pipeline.table(t) for t in names]
        if not todo:
            report = PublishReport(target.name, _in_order(outcomes, order))
            if nessie_tag is not None:
                self.set_tag(nessie_tag, target.name)
                report = PublishReport(target.name, _in_order(outcomes, order), tag=nessie_tag)
            return self._with_history(report, branch, sources, erased, mark, tag, written)
        if target.hash == NO_ANCESTOR:
            # Nessie 0.99 merges only into a branch with a commit of its own: the namespace is it.
            target = self.nessie.create_namespace(target.name, [NAMESPACE], f"persona: namespace {NAMESPACE}")
        message = commit_message(target.name, [s for s, _ in todo], len(erased), nessie_tag)
        work = self.nessie.create_branch(
            self.ref(f"{WORK_BRANCH_PREFIX}{uuid.uuid4().hex[:12]}"), from_ref=target.name
        )
        notes: list[str] = []
        try:
            work_catalog = self.catalog(work.name)
            for source, why in todo:
                outcomes.append(self._write(work_catalog, source, why, erased, mark, written))
            if older and nessie_tag is not None:
                # A tag published late (its snapshot older than the branch's publication): the tag
                # gets it, the branch keeps its newer tables.
                self.set_tag(nessie_tag, work.name)
                notes.append(f"older than {target.name}'s publication: tagged only, {target.name} unchanged")
                late = PublishReport(
                    target.name, _in_order(outcomes, order), None, message, nessie_tag, notes
                )
                return self._with_history(late, branch, sources, erased, mark, tag, written)
            head = self.nessie.merge(work.name, into=target.name, message=message)
        except (NessieError, IcebergError) as error:
            raise PublishError(f"publishing to {target.name} failed: {error}") from None
        finally:
            self._drop(work.name)
        if nessie_tag is not None:
            self.set_tag(nessie_tag, target.name)
        report = PublishReport(target.name, _in_order(outcomes, order), head.hash, message, nessie_tag, notes)
        return self._with_history(report, branch, sources, erased, mark, tag, written)

    def _with_history(
        self,
        report: PublishReport,
        branch: str,
        sources: list[Source],
        erased: Mapping[int, int],
        mark: str,
        tag: str | None,
        written: Mapping[str, pa.Table],
    ) -> PublishReport:
        """Main's publication also goes into the history catalog: an appended snapshot per table whose
        snapshot it lacks, and the Iceberg tag ``tag`` (the Paimon tag's name). Nessie is done by now:
        a failure here says so, and the next publication catches the history up."""
        if self.history is None or branch != MAIN or not sources:
            return report

        def rows(source: Source) -> pa.Table:
            if source.table in written:
                return written[source.table]
            return _iceberg_ready(self._rows(source, erased)[0])

        try:
            outcomes = [self.history.record(source, mark, rows, tag) for source in sources]
        except (IcebergError, PaimonError) as error:
            raise PublishError(
                f"published to Nessie {report.ref}, but writing the history catalog failed: {error} "
                "(the next `persona publish` catches it up)"
            ) from None
        return replace(report, history=outcomes)

    def mirror_history(self, tag: str | None = None) -> list[HistoryOutcome]:
        """Make the history catalog hold what Nessie's main holds now, tagged ``tag``: after a logic
        merge, main holds the branch's published tables (their Paimon snapshots on the branch), and the
        release tag names that state. Each table's source is read back from main's table properties."""
        if self.history is None:
            return []
        try:
            self.check_reachable()
            catalog = self.catalog(self.ensure_ref(MAIN).name)
            bases = [self.settings.pipeline.table(table) for table in PUBLISHED_TABLES]
            held = [published_source(base, self._properties(catalog, base)) for base in bases]
            sources = [source for source in held if source is not None]
            erased = self.erasures()
            report = self._with_history(
                PublishReport(MAIN, []), MAIN, sources, erased, erasures_mark(erased), tag, {}
            )
        except (NessieError, IcebergError, PaimonError) as error:
            raise PublishError(str(error)) from None
        return report.history

    def _rows(self, source: Source, erased: Mapping[int, int]) -> tuple[pa.Table, int]:
        """A source's rows from Paimon with the erased customers' rows left out, and how many were."""
        data = self.warehouse.read_arrow(source.paimon_table, snapshot_id=source.snapshot_id)
        return without_erased(data, erased)

    def _properties(self, catalog: Catalog, table: str) -> dict[str, str] | None:
        try:
            return table_properties(catalog, _identifier(table))
        except Exception as error:  # pyiceberg raises its own types for a refusing catalog
            raise PublishError(f"reading {_identifier(table)} from Nessie failed: {error}") from None

    def _write(
        self,
        catalog: Catalog,
        source: Source,
        why: str,
        erased: Mapping[int, int],
        mark: str,
        written: dict[str, pa.Table],
    ) -> TableOutcome:
        started = time.perf_counter()
        self._progress(f"{source.describe()}: reading from Paimon")
        data, left_out = self._rows(source, erased)
        read = time.perf_counter() - started
        self._progress(
            f"{source.describe()}: {data.num_rows:,} rows read in {read:.1f}s"
            + (f" ({left_out} erased rows left out)" if left_out else "")
            + "; writing Iceberg"
        )
        ready = written[source.table] = _iceberg_ready(data)
        try:
            replace_contents(catalog, _identifier(source.table), ready, properties=marks(source, mark))
        except IcebergError as error:
            raise IcebergError(f"{error} (S3 endpoint {self.settings.s3.endpoint})") from None
        seconds = time.perf_counter() - started
        self._progress(f"{source.describe()}: written in {seconds:.1f}s")
        return TableOutcome(source.table, "published", why, source, data.num_rows, left_out, seconds)

    def _drop(self, name: str) -> None:
        try:
            self.nessie.delete_reference(name)
        except NessieError as error:
            log.warning("could not delete the work branch %s: %s", name, error)

    def set_tag(self, tag: str, ref: str) -> Reference:
        head = self.nessie.reference(ref)
        try:
            current = self.nessie.reference(tag)
        except ReferenceNotFound:
            return self.nessie.create_tag(tag, from_ref=ref)
        if current.kind != "TAG":
            raise PublishError(f"{tag} is a Nessie branch, not a tag: cannot tag a publication with it")
        if current.hash == head.hash:
            return current
        return self.nessie.assign(tag, head.hash)

    # --- reading the publication ---------------------------------------------------------------------

    def published(self, ref: str, table: str) -> dict[str, str] | None:
        """The publication properties of ``table`` on the Nessie reference ``ref`` (None: not there)."""
        return self._properties(self.catalog(ref), self.settings.pipeline.table(table))

    def read(self, ref: str, table: str) -> pa.Table:
        result: pa.Table = self.catalog(ref).load_table(self.identifier(table)).scan().to_arrow()
        return result

    # --- the nightly tags ----------------------------------------------------------------------------

    def follow_rfm_tags(self) -> list[PublishReport]:
        """Publish every nightly tag ``rfm-YYYYMMDD`` of ``customer_profile`` that Nessie lacks (or holds
        at another snapshot: a re-run day), in date order: all three tables onto main, tagged alike."""
        try:
            return self._follow_rfm_tags()
        except PublishError:
            raise
        except (NessieError, IcebergError, PaimonError) as error:
            raise PublishError(str(error)) from None

    def _follow_rfm_tags(self) -> list[PublishReport]:
        self.check_reachable()
        name = self.settings.pipeline.table(PROFILE_TABLE)
        if not self._exists(name):
            return []
        manager = self.warehouse.table(name).tag_manager()
        tags = {str(t): int(manager.get(t).id) for t in manager.list_tags()}
        published: dict[str, int | None] = {}
        for tag in tags:
            try:
                self.nessie.reference(self.ref(tag))
            except ReferenceNotFound:
                continue
            held = self.published(self.ref(tag), PROFILE_TABLE) or {}
            ok = (
                held.get(MARK_WAREHOUSE) == self.warehouse.warehouse
                and held.get(MARK_TABLE) == name
                and held.get(MARK_SNAPSHOT, "").isdigit()
            )
            published[tag] = int(held[MARK_SNAPSHOT]) if ok else None
        return [self.publish(PUBLISHED_TABLES, MAIN, tag=tag) for tag in pending_rfm_tags(tags, published)]


def _in_order(outcomes: list[TableOutcome], order: list[str]) -> list[TableOutcome]:
    """A report's outcomes in the order the tables were named, whenever each was decided."""
    return sorted(outcomes, key=lambda o: order.index(o.table) if o.table in order else len(order))


def _identifier(name: str) -> str:
    return f"{NAMESPACE}.{name}"


def _iceberg_ready(data: pa.Table) -> pa.Table:
    """Arrow as Iceberg takes it: large strings and lists are plain (pypaimon's native reader may hand
    out large types; Iceberg's string is one type)."""
    fields: list[Any] = []
    changed = False
    for f in data.schema:
        t = f.type
        if pa.types.is_large_string(t):
            t, changed = pa.string(), True
        elif pa.types.is_large_list(t):
            t, changed = pa.list_(t.value_type), True
        fields.append(pa.field(f.name, t, f.nullable))
    return data.cast(pa.schema(fields)) if changed else data
