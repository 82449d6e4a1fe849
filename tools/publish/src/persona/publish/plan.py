"""What to publish, and whether: the pure part of the Iceberg publication (no I/O).

A publication copies one Paimon snapshot of a table into an Iceberg table of the same name on the
Nessie reference that stands for the Paimon branch. The Iceberg table's properties record which
snapshot it holds (``persona.paimon.*``) and which erasures were applied to it, so publishing the
same snapshot again is a no-op, and a new erasure is reason enough to publish again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

MAIN: Final = "main"
NAMESPACE: Final = "persona"
# The tables the publication carries (DESIGN §6), in the order they are written.
PUBLISHED_TABLES: Final = ("marketing_segments", "customer_profile", "segment_decisions")

# Table properties of a published Iceberg table (Nessie 0.99 keeps table properties, not a
# snapshot's summary).
MARK_WAREHOUSE: Final = "persona.paimon.warehouse"
MARK_TABLE: Final = "persona.paimon.table"
MARK_SNAPSHOT: Final = "persona.paimon.snapshot-id"
MARK_TAG: Final = "persona.paimon.tag"
MARK_ERASURES: Final = "persona.erasures"

RFM_TAG: Final = re.compile(r"^rfm-\d{8}$")
# The prefix of the short-lived branch a publication writes on before it is merged in one commit.
WORK_BRANCH_PREFIX: Final = "publish-"


def nessie_ref(prefix: str, paimon_ref: str) -> str:
    """The Nessie branch or tag that stands for a Paimon branch or tag: its name after ``prefix``
    (PERSONA_NESSIE_REF_PREFIX), so Paimon's main is ``<prefix>main``."""
    return prefix + paimon_ref


def paimon_name(table: str, branch: str) -> str:
    """The name that opens ``table`` on ``branch`` (as ``persona.paimon.branches.on_branch``)."""
    return table if branch == MAIN else f"{table}$branch_{branch}"


def branch_of(paimon_table: str) -> str:
    """The Paimon branch a table name opens: the inverse of ``paimon_name``."""
    return paimon_table.split("$branch_", 1)[1] if "$branch_" in paimon_table else MAIN


def parse_tables(text: str | None) -> tuple[str, ...]:
    """``--tables a,b``: the named tables in publication order; every name must be a published table."""
    if text is None or not text.strip():
        return PUBLISHED_TABLES
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in PUBLISHED_TABLES]
    if unknown:
        raise ValueError(
            f"cannot publish {', '.join(unknown)}: the publication carries {', '.join(PUBLISHED_TABLES)}"
        )
    return tuple(name for name in PUBLISHED_TABLES if name in names)


@dataclass(frozen=True)
class Source:
    """One Paimon snapshot of one table to publish: ``table`` is the base name (suffix included),
    ``branch`` the Paimon branch, ``tag`` the Paimon tag it was chosen by (if any)."""

    table: str
    branch: str
    snapshot_id: int
    tag: str | None = None
    # The Paimon warehouse it comes from: the same table name and snapshot id in another warehouse (a
    # wiped and re-made one) is other data.
    warehouse: str = ""

    @property
    def paimon_table(self) -> str:
        return paimon_name(self.table, self.branch)

    def describe(self) -> str:
        where = self.table if self.branch == MAIN else f"{self.table}@{self.branch}"
        if self.tag is not None:
            return f"{where} tag {self.tag} (snapshot {self.snapshot_id})"
        return f"{where} snapshot {self.snapshot_id}"


def choose_snapshot(
    *, snapshot: int | None, tag: str | None, tag_snapshot: int | None, latest: int | None
) -> tuple[int | None, str | None, str]:
    """The snapshot to publish and the tag that chose it: an explicit ``snapshot``; else the table's
    ``tag`` when it has it (``tag_snapshot``); else its ``latest``. The third value says why, for the
    command's output ("" when nothing needs saying); a None snapshot means there is nothing to publish."""
    if snapshot is not None:
        return snapshot, None, ""
    if tag is not None and tag_snapshot is not None:
        return tag_snapshot, tag, ""
    note = f"no tag {tag}: its latest snapshot" if tag is not None else ""
    if latest is None:
        return None, None, "no snapshot yet"
    return latest, None, note


def erasures_mark(erased: Mapping[int, int]) -> str:
    """What the erasures applied to a publication amount to: their count and newest instant. Erasures
    are only ever added, so a different mark means a customer to remove that may still be there."""
    if not erased:
        return "0"
    return f"{len(erased)}@{max(erased.values())}"


def marks(source: Source, erased_mark: str) -> dict[str, str]:
    """The table properties a publication of ``source`` sets."""
    return {
        MARK_WAREHOUSE: source.warehouse,
        MARK_TABLE: source.paimon_table,
        MARK_SNAPSHOT: str(source.snapshot_id),
        MARK_TAG: source.tag or "",
        MARK_ERASURES: erased_mark,
    }


def published_source(table: str, published: Mapping[str, str] | None) -> Source | None:
    """The source whose publication left the table properties ``published`` (``marks``), of the base
    table ``table``; None when they name no Paimon snapshot."""
    if published is None or not published.get(MARK_SNAPSHOT, "").isdigit():
        return None
    return Source(
        table,
        branch_of(published.get(MARK_TABLE, table)),
        int(published[MARK_SNAPSHOT]),
        published.get(MARK_TAG) or None,
        published.get(MARK_WAREHOUSE, ""),
    )


@dataclass(frozen=True)
class Decision:
    publish: bool
    why: str


def decide(published: Mapping[str, str] | None, source: Source, erased_mark: str) -> Decision:
    """Whether ``source`` must be published over what the Iceberg table holds (its properties; None
    when there is no such table yet). Idempotent: the same snapshot with the same erasures is not
    published again."""
    if published is None:
        return Decision(True, "not published yet")
    held_table = published.get(MARK_TABLE)
    held_snapshot = published.get(MARK_SNAPSHOT)
    if published.get(MARK_WAREHOUSE, "") != source.warehouse:
        return Decision(
            True, f"the publication holds a copy from the warehouse {published.get(MARK_WAREHOUSE)}"
        )
    if held_table != source.paimon_table:
        held = "elsewhere" if held_table is None else f"from {held_table}"
        return Decision(True, f"the publication holds a copy {held}")
    if held_snapshot != str(source.snapshot_id):
        return Decision(True, f"the publication holds snapshot {held_snapshot}")
    if published.get(MARK_ERASURES) != erased_mark:
        return Decision(True, "erasures were recorded since it was published")
    return Decision(False, f"snapshot {source.snapshot_id} is published already")


def is_older(published: Mapping[str, str] | None, source: Source) -> bool:
    """Whether ``source`` is an older snapshot of the table the publication holds a newer one of (a
    tag published late): publishing it onto the branch would roll the branch back."""
    if published is None or published.get(MARK_TABLE) != source.paimon_table:
        return False
    if published.get(MARK_WAREHOUSE, "") != source.warehouse:
        return False
    try:
        return int(published.get(MARK_SNAPSHOT, "")) > source.snapshot_id
    except ValueError:
        return False


def commit_message(ref: str, published: Iterable[Source], erased: int, tag: str | None = None) -> str:
    """The Nessie commit message of one publication: what was published from where, so `nessie log`
    (or `persona logic log`) names the Paimon snapshots and tags behind each catalog commit."""
    items = ", ".join(source.describe() for source in published)
    text = f"persona publish to {ref}: {items}"
    if tag is not None:
        text += f"; tagged {tag}"
    if erased:
        text += f"; {erased} erased customer{'s' if erased != 1 else ''} excluded"
    return text


def pending_rfm_tags(paimon_tags: Mapping[str, int], published: Mapping[str, int | None]) -> list[str]:
    """The nightly tags (``rfm-YYYYMMDD``) of ``customer_profile`` to publish: those with no Nessie tag
    yet (absent from ``published``) or whose Nessie tag holds another snapshot (the day was re-run and
    its Paimon tag moved). In date order, so the newest is published last."""
    return sorted(
        name
        for name, snapshot in paimon_tags.items()
        if RFM_TAG.match(name) and (name not in published or published[name] != snapshot)
    )
