"""The hook for the catalog that versions the published tables (Nessie, DESIGN §6).

``persona logic`` creates, merges and tags the Paimon branches itself; the same steps on the catalog
go through ``CatalogBranches``, which the publication (``persona.publish``, over the ``persona.nessie``
adapter) implements: a branch is a Nessie branch, a replay publishes the branch's tables as Iceberg onto
it, a merge publishes them and merges the Nessie branch into main, a release is a Nessie tag. This package does not import it:
``load_catalog_branches`` looks for ``persona.publish.catalog_branches(env)`` at run time and returns
None when it is not installed or the publication is switched off (PERSONA_PUBLICATION=off), so every
command can say plainly that the Nessie step was not done.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Protocol, runtime_checkable


@runtime_checkable
class CatalogBranches(Protocol):
    """Branches and tags of a versioned catalog; each call returns a short description of what it did
    (e.g. the new reference's hash), for the command's output."""

    name: str

    def create_branch(self, branch: str, from_ref: str) -> str: ...

    def publish(self, branch: str) -> list[str]: ...

    def merge(self, branch: str, into: str, message: str) -> str: ...

    def tag(self, tag: str, ref: str) -> str: ...

    def history(self, ref: str, limit: int = 10) -> list[str]: ...


NOT_CONFIGURED = "not configured"


def load_catalog_branches(env: Mapping[str, str]) -> tuple[CatalogBranches | None, str]:
    """The catalog's branches, or None and why not (for the command to print)."""
    try:
        module = importlib.import_module("persona.publish")
    except ImportError:
        return None, f"nessie: {NOT_CONFIGURED} (persona.publish is not installed); Paimon only"
    factory = getattr(module, "catalog_branches", None)
    if factory is None:
        return None, f"nessie: {NOT_CONFIGURED} (persona.publish has no catalog_branches); Paimon only"
    catalog = factory(env)
    if catalog is None:
        return None, f"nessie: {NOT_CONFIGURED} (PERSONA_PUBLICATION=off); Paimon only"
    if not isinstance(catalog, CatalogBranches):
        return (
            None,
            f"nessie: {NOT_CONFIGURED} ({type(catalog).__name__} is not a CatalogBranches); Paimon only",
        )
    return catalog, f"nessie: {catalog.name}"
