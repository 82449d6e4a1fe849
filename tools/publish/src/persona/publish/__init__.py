"""persona.publish: the Paimon tables published as Iceberg tables into Nessie (``persona publish``,
DESIGN §6), and ``persona logic``'s catalog steps on Nessie.

A tool: it reads the warehouse and writes Nessie and the object store; the pure parts are
``persona.publish.plan`` (what to publish, whether, the commit message) and ``persona.publish.erasure``.
"""

from persona.publish.branches import NessieBranches, catalog_branches
from persona.publish.erasure import without_erased
from persona.publish.plan import PUBLISHED_TABLES, Decision, Source, decide, parse_tables
from persona.publish.publisher import Publisher, PublishError, PublishReport, PublishSettings, TableOutcome

__all__ = [
    "PUBLISHED_TABLES",
    "Decision",
    "NessieBranches",
    "PublishError",
    "PublishReport",
    "PublishSettings",
    "Publisher",
    "Source",
    "TableOutcome",
    "catalog_branches",
    "decide",
    "parse_tables",
    "without_erased",
]
