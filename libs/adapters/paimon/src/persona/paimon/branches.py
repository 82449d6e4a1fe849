"""Paimon branches of the warehouse's tables (pypaimon's filesystem branch manager).

pypaimon 2.1.0 creates, lists and drops real Paimon branches (``<table>/branch/branch-<name>``), and
every reader and writer of persona opens a branch as the table ``<table>$branch_<name>`` (the native
Rust write and read and DataFusion's SQL included). A branch made ``--from`` a branch starts from that
branch's latest snapshot: it is tagged ``branch-<name>-base`` there, and the branch is created from the
tag, so the branch holds exactly what its origin held at that instant. A table without a snapshot yet
gives an empty branch (its schema only).

What pypaimon does **not** do is a usable fast-forward: its ``fast_forward`` copies the branch's snapshot
files over main's same-numbered ones and leaves main's later snapshots in place (so main's LATEST then
points past the branch, at main's own commits), and Paimon's fast-forward itself would drop every commit
main took since the branch point — the live decisions of a pipeline that keeps streaming. persona's
``logic merge`` therefore publishes the branch's rows onto main as one commit instead
(``persona.logic``), which keeps main's history and is the documented equivalent.
"""

from __future__ import annotations

import re
from typing import Final

from persona.paimon.catalog import PaimonError, PaimonWarehouse

MAIN: Final = "main"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


def check_branch_name(name: str) -> str:
    """``name`` if it can name a branch of every table (and of a Nessie branch): a letter, then
    letters, digits, ``-`` or ``_``, at most 64; never ``main``."""
    if not _NAME.match(name) or name.lower() == MAIN:
        raise ValueError(
            f"invalid branch name {name!r}: a letter, then letters, digits, '-' or '_' (at most 64), not 'main'"
        )
    return name


def on_branch(table: str, branch: str) -> str:
    """The table name that opens ``table`` on ``branch`` (``main``: the table itself)."""
    return table if branch == MAIN else f"{table}$branch_{branch}"


def base_tag(branch: str) -> str:
    return f"branch-{branch}-base"


class PaimonBranches:
    """Branches of a set of tables, created and listed together."""

    def __init__(self, warehouse: PaimonWarehouse) -> None:
        self._warehouse = warehouse

    def exists(self, table: str, branch: str) -> bool:
        if branch == MAIN:
            return True
        return bool(self._warehouse.table(table).branch_manager().branch_exists(branch))

    def branches(self, table: str) -> list[str]:
        return sorted(str(b) for b in self._warehouse.table(table).branch_manager().branches())

    def create(self, tables: list[str], branch: str, from_branch: str = MAIN) -> dict[str, int | None]:
        """Create ``branch`` of every table of ``tables`` from ``from_branch``'s latest snapshot; the
        snapshot each started from (None: the origin was empty). A table that already has the branch is
        an error naming it, checked before anything is created."""
        check_branch_name(branch)
        taken = [t for t in tables if self.exists(t, branch)]
        if taken:
            raise PaimonError(f"branch {branch!r} already exists on {', '.join(taken)}")
        missing = [t for t in tables if not self.exists(t, from_branch)]
        if missing:
            raise PaimonError(f"branch {from_branch!r} does not exist on {', '.join(missing)}")
        started: dict[str, int | None] = {}
        for table in tables:
            origin = self._warehouse.table(on_branch(table, from_branch))
            snapshot = origin.snapshot_manager().get_latest_snapshot()
            manager = origin.branch_manager()
            if snapshot is None:
                manager.create_branch(branch)
                started[table] = None
                continue
            tag = base_tag(branch)
            origin.create_tag(tag, snapshot_id=int(snapshot.id), ignore_if_exists=True)
            manager.create_branch(branch, tag_name=tag)
            started[table] = int(snapshot.id)
        return started

    def drop(self, tables: list[str], branch: str) -> None:
        for table in tables:
            if self.exists(table, branch):
                self._warehouse.table(table).branch_manager().drop_branch(branch)
