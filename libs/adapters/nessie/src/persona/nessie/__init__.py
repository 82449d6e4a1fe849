"""persona.nessie: Nessie, the catalog's version history (branches, tags, merges), through its REST API v2.

An adapter: nothing runs and nothing reads the environment at import; callers pass the server's URL
from their settings.
"""

from __future__ import annotations

from persona.nessie.client import (
    NO_ANCESTOR,
    Entry,
    LogEntry,
    NessieCatalog,
    NessieError,
    NessieRest,
    Reference,
    ReferenceConflict,
    ReferenceExists,
    ReferenceNotFound,
    ServerConfig,
    check_reference_name,
)

__all__ = [
    "NO_ANCESTOR",
    "Entry",
    "LogEntry",
    "NessieCatalog",
    "NessieError",
    "NessieRest",
    "Reference",
    "ReferenceConflict",
    "ReferenceExists",
    "ReferenceNotFound",
    "ServerConfig",
    "check_reference_name",
]
