"""Connections to the CRM database (MariaDB or MySQL) with PyMySQL."""

from __future__ import annotations

import socket
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
        _close_abandoned_socket(error)
        where = endpoint.unix_socket or f"{endpoint.host}:{endpoint.port}"
        raise CrmError(f"cannot connect to the CRM at {where} as {endpoint.user!r}: {error}") from error


def _close_abandoned_socket(error: BaseException) -> None:
    """Close the Unix socket PyMySQL leaves open when connecting through it fails.

    PyMySQL makes the socket, fails to connect it (no server yet: every health probe while MariaDB
    starts) and raises without closing it; the garbage collector then closes it at some later moment
    with a ResourceWarning that surfaces in whatever runs then. The socket is a local of the failed
    frame, which the original exception's traceback still holds.
    """
    trace = getattr(getattr(error, "original_exception", None), "__traceback__", None)
    while trace is not None:
        abandoned = trace.tb_frame.f_locals.get("sock")
        if isinstance(abandoned, socket.socket):
            abandoned.close()
        trace = trace.tb_next
