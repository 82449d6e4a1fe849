"""Connections to the CRM database (MariaDB or MySQL) with PyMySQL."""

from __future__ import annotations

from dataclasses import dataclass, field

import pymysql
from pymysql.connections import Connection


class CrmError(RuntimeError):
    """The CRM could not be reached or refused a statement; the message says which and why."""


@dataclass(frozen=True)
class CrmEndpoint:
    """Where and as whom to connect. ``password`` is kept out of ``repr`` so an endpoint can be logged."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str | None
    # A Unix socket, when the client runs beside the server (the local stack's administrator).
    unix_socket: str | None = None


def connect(endpoint: CrmEndpoint, *, timeout: float = 10.0, autocommit: bool = False) -> Connection:
    """A connection whose session time zone is UTC (the CRM stores UTC times)."""
    try:
        return pymysql.connect(
            host=endpoint.host,
            port=endpoint.port,
            user=endpoint.user,
            password=endpoint.password,
            database=endpoint.database,
            unix_socket=endpoint.unix_socket,
            connect_timeout=max(1, round(timeout)),
            read_timeout=None,
            autocommit=autocommit,
            charset="utf8mb4",
            init_command="SET time_zone = '+00:00'",
            local_infile=True,
        )
    except pymysql.MySQLError as error:
        where = endpoint.unix_socket or f"{endpoint.host}:{endpoint.port}"
        raise CrmError(f"cannot connect to the CRM at {where} as {endpoint.user!r}: {error}") from error
