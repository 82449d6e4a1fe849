"""The local Trino coordinator's health and endpoint: SQL over the Iceberg publication (DESIGN §6).

Trino is a child of ``persona stack up --with trino`` (see ``stack.py``); its catalog ``iceberg`` is
Nessie's Iceberg REST catalog (main; ``iceberg_<ref>`` for other references), whose schemas are the
Iceberg namespaces, and its catalog ``history`` is the history catalog (main's publications with their
snapshots and tags: what ``FOR VERSION AS OF``/``FOR TIMESTAMP AS OF`` read).
"""

from __future__ import annotations

import hashlib
import re

from persona.localstack import procs
from persona.localstack.catalog import PUBLICATION_NAMESPACE, nessie_client
from persona.localstack.configs import TRINO_CATALOG, TRINO_HISTORY_CATALOG, trino_iceberg_properties
from persona.localstack.errors import StackError
from persona.localstack.settings import StackSettings
from persona.nessie import NessieError
from persona.settings.registry import LOCALHOST
from persona.trino import QueryResult, TrinoEndpoint, TrinoError, query, server_info

# The namespace the publication writes persona's tables into, so `FROM marketing_segments` names it.
DEFAULT_SCHEMA = PUBLICATION_NAMESPACE
# Nessie's reference names (a safe subset: they are spliced into a catalog name and a URI).
_REFERENCE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")


def trino_endpoint(
    settings: StackSettings, schema: str = DEFAULT_SCHEMA, catalog: str = TRINO_CATALOG
) -> TrinoEndpoint:
    return TrinoEndpoint(host=LOCALHOST, port=settings.trino_port, catalog=catalog, schema=schema)


def reference_catalog_name(reference: str) -> str:
    """The Trino catalog of a Nessie reference: ``iceberg`` for main, ``iceberg_<ref>`` with ``-`` as
    ``_`` for a branch or tag of lower-case letters, digits and dashes (``iceberg_rfm_20261207``).

    Any other name (capitals, ``_`` or ``.``) gets the first 8 hex digits of its SHA-256 as a suffix:
    Trino folds catalog names to lower case and allows no punctuation but ``_``, so ``a-b``, ``a_b``,
    ``a.b`` and ``A-b`` would otherwise be one catalog reading whichever reference made it first.
    """
    if not _REFERENCE.fullmatch(reference):
        raise StackError(f"{reference!r} is not a Nessie branch or tag name")
    if reference == "main":
        return TRINO_CATALOG
    readable = f"{TRINO_CATALOG}_{re.sub(r'[^a-z0-9]', '_', reference.lower())}"
    if re.fullmatch(r"[a-z0-9-]+", reference):
        return readable
    return f"{readable}_{hashlib.sha256(reference.encode()).hexdigest()[:8]}"


def ensure_reference_catalog(settings: StackSettings, reference: str) -> str:
    """The catalog reading Nessie reference ``reference``, created (CREATE CATALOG) on first use.

    Trino's Iceberg connector reads one Iceberg REST catalog per Trino catalog, and Nessie serves
    each reference as its own catalog (``/iceberg/<ref>``): a branch or tag is a catalog here.
    """
    name = reference_catalog_name(reference)
    if reference == "main":
        return name  # etc/catalog/iceberg.properties, there from the start
    try:
        known = {ref.name for ref in nessie_client(settings).references()}
    except NessieError as error:
        raise StackError(f"cannot list Nessie's references: {error}") from None
    if reference not in known:
        raise StackError(f"Nessie has no branch or tag {reference!r} (it has: {', '.join(sorted(known))})")
    endpoint = trino_endpoint(settings)
    try:
        existing = {str(row["Catalog"]) for row in query(endpoint, "SHOW CATALOGS").rows}
        if name in existing:
            return name
        properties = ", ".join(
            f"\"{key}\" = '{value}'" for key, value in trino_iceberg_properties(settings, reference).items()
        )
        query(endpoint, f"CREATE CATALOG {name} USING iceberg WITH ({properties})")
    except TrinoError as error:
        if "already exists" in str(error):  # another client created it in between: as good
            return name
        raise StackError(f"cannot open Nessie reference {reference!r} in Trino: {error}") from None
    return name


def run_sql(
    settings: StackSettings,
    sql: str,
    *,
    reference: str = "main",
    schema: str = DEFAULT_SCHEMA,
    history: bool = False,
) -> QueryResult:
    """Run ``sql`` on the local Trino with the session on ``reference``'s catalog and ``schema``, so
    unqualified names (``marketing_segments``) are the publication's tables on that branch or tag.
    With ``history`` the session is on the history catalog instead (main only), where older
    publications are snapshots and tags of each table."""
    if history and reference != "main":
        raise StackError(
            f"the history catalog keeps main's publications only; read Nessie reference {reference!r} "
            "without --history"
        )
    if not procs.tcp_accepts(settings.trino_port):
        raise StackError(
            f"Trino is not running on {LOCALHOST}:{settings.trino_port}: start it with "
            "`persona stack up --with trino`"
        )
    catalog = TRINO_HISTORY_CATALOG if history else ensure_reference_catalog(settings, reference)
    try:
        return query(trino_endpoint(settings, schema, catalog), sql)
    except TrinoError as error:
        raise StackError(str(error)) from None


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
    return True, (
        f"Trino {info.version}, up {info.uptime}, catalog {TRINO_CATALOG} on Nessie, "
        f"{TRINO_HISTORY_CATALOG} on the history catalog"
    )
