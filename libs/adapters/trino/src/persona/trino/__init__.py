"""persona.trino: SQL on a Trino coordinator (the Iceberg publication's engine, DESIGN §6).

Queries go through the Trino project's own Python client (``trino`` on PyPI, DB-API): it speaks
Trino's HTTP protocol (POST /v1/statement, then following ``nextUri`` until the result is complete)
and turns Trino's types into Python ones (DECIMAL, TIMESTAMP WITH TIME ZONE, ARRAY, ROW), which a
hand-written protocol loop would have to redo. The server's own state comes from ``/v1/info``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import trino.dbapi
import trino.exceptions


class TrinoError(Exception):
    """Trino refused a query, or could not be reached."""


@dataclass(frozen=True)
class TrinoEndpoint:
    """Where a coordinator listens and the session a query runs in (catalog and schema name the
    unqualified tables, so ``SELECT * FROM marketing_segments`` works as it does in DataFusion)."""

    host: str
    port: int
    catalog: str
    schema: str
    user: str = "persona"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class ServerInfo:
    version: str
    starting: bool
    uptime: str


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]
    query_id: str


def server_info(endpoint: TrinoEndpoint, timeout: float = 5.0) -> ServerInfo:
    """The coordinator's ``/v1/info``: its version and whether it is still starting."""
    try:
        with urllib.request.urlopen(f"{endpoint.url}/v1/info", timeout=timeout) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise TrinoError(f"Trino /v1/info answered {error.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise TrinoError(f"Trino /v1/info unreachable: {getattr(error, 'reason', error)}") from None
    version = body.get("nodeVersion", {}).get("version", "?")
    return ServerInfo(
        version=str(version), starting=bool(body.get("starting")), uptime=str(body.get("uptime"))
    )


def query(endpoint: TrinoEndpoint, sql: str, timeout: float = 300.0) -> QueryResult:
    """Run one statement to completion and return every row (column name -> Python value)."""
    connection = trino.dbapi.connect(  # type: ignore[no-untyped-call]
        host=endpoint.host,
        port=endpoint.port,
        user=endpoint.user,
        catalog=endpoint.catalog,
        schema=endpoint.schema,
        http_scheme="http",
        request_timeout=timeout,
        source="persona",
    )
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        fetched = cursor.fetchall()
        columns = tuple(column[0] for column in cursor.description or ())
        query_id = cursor.query_id or ""
    except trino.exceptions.TrinoQueryError as error:
        raise TrinoError(f"{error.error_name}: {error.message}") from None
    except (trino.exceptions.Error, trino.exceptions.HttpError) as error:
        raise TrinoError(f"Trino at {endpoint.url}: {error}") from None
    except OSError as error:  # requests' connection errors derive from it
        raise TrinoError(f"Trino at {endpoint.url} unreachable: {error}") from None
    finally:
        connection.close()
    rows = tuple(dict(zip(columns, row, strict=True)) for row in fetched)
    return QueryResult(columns=columns, rows=rows, query_id=query_id)


__all__ = ["QueryResult", "ServerInfo", "TrinoEndpoint", "TrinoError", "query", "server_info"]
