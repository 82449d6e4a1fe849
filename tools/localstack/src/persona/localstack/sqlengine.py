"""The local Trino coordinator's health and endpoint: SQL over the Iceberg publication (DESIGN §6).

Trino is a child of ``persona stack up --with trino`` (see ``stack.py``); its one catalog,
``iceberg``, is Nessie's Iceberg REST catalog, whose schemas are the Iceberg namespaces.
"""

from __future__ import annotations

from persona.localstack.configs import TRINO_CATALOG
from persona.localstack.settings import StackSettings
from persona.settings.registry import LOCALHOST
from persona.trino import TrinoEndpoint, TrinoError, query, server_info

# The namespace the publication writes persona's tables into, so `FROM marketing_segments` names it.
DEFAULT_SCHEMA = "persona"


def trino_endpoint(settings: StackSettings, schema: str = DEFAULT_SCHEMA) -> TrinoEndpoint:
    return TrinoEndpoint(host=LOCALHOST, port=settings.trino_port, catalog=TRINO_CATALOG, schema=schema)


def probe(settings: StackSettings, timeout: float = 3.0) -> tuple[bool, str]:
    """Health: ``/v1/info`` says the server finished starting, and ``SELECT 1`` runs (a coordinator
    answers /v1/info before its worker side has announced itself, when queries still fail)."""
    endpoint = trino_endpoint(settings)
    try:
        info = server_info(endpoint, timeout)
        if info.starting:
            return False, f"Trino {info.version} is starting"
        result = query(endpoint, "SELECT 1", timeout=timeout)
    except TrinoError as error:
        return False, str(error)
    if [tuple(row.values()) for row in result.rows] != [(1,)]:
        return False, f"SELECT 1 answered {result.rows}"
    return True, f"Trino {info.version}, up {info.uptime}, catalog {TRINO_CATALOG} on Nessie"
