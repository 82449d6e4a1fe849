"""The local CRM's database, tables and users (`persona stack init`), administered as root over the
server's Unix socket.

Idempotent like the rest of init: what exists stays, and the users' passwords are set from the
settings each time, so changing ``PERSONA_CRM_PASSWORD`` and running init again takes effect.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pymysql
from pymysql.connections import Connection

from persona.crm import TABLES, TABLES_DDL, CrmEndpoint, CrmError, connect
from persona.localstack.errors import StackError
from persona.localstack.settings import StackSettings
from persona.settings.registry import LOCALHOST

# The host part of the local users: the server listens on the loopback address only.
LOCAL_USER_HOST = LOCALHOST
# What Debezium's MariaDB connector needs (its documentation's "required permissions"): reading the
# tables it snapshots, the global read lock of a consistent snapshot (RELOAD), and the binlog.
CDC_GLOBAL_GRANTS = "RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR"
CRM_GRANTS = "SELECT, INSERT, UPDATE, DELETE"


def root_endpoint(settings: StackSettings, database: str | None = None) -> CrmEndpoint:
    """The server's root, who may log in only through the socket as the OS user running the stack."""
    return CrmEndpoint(
        host=LOCALHOST,
        port=settings.mariadb_port,
        user="root",
        password="",
        database=database,
        unix_socket=str(settings.mariadb_socket),
    )


def crm_endpoint(settings: StackSettings) -> CrmEndpoint:
    """persona's read/write user on the CRM database, over TCP as any client would connect."""
    return CrmEndpoint(
        settings.crm_host,
        settings.mariadb_port,
        settings.crm_user,
        settings.crm_password.reveal(),
        settings.crm_database,
    )


def cdc_endpoint(settings: StackSettings) -> CrmEndpoint:
    """Debezium's replication user (no database: it reads the binlog and snapshots crm.orders)."""
    return CrmEndpoint(
        settings.crm_host, settings.mariadb_port, settings.cdc_user, settings.cdc_password.reveal(), None
    )


@contextmanager
def root_connection(settings: StackSettings, timeout: float = 10.0) -> Iterator[Connection]:
    try:
        connection = connect(root_endpoint(settings), timeout=timeout, autocommit=True)
    except CrmError as error:
        raise StackError(str(error)) from error
    try:
        yield connection
    finally:
        connection.close()


def _quoted_name(name: str) -> str:
    if not name or "`" in name or "\x00" in name:
        raise StackError(f"{name!r} cannot be a MariaDB database name")
    return f"`{name}`"


def ensure_crm_schema(settings: StackSettings) -> tuple[list[str], list[str]]:
    """Create the CRM database, its tables and both users if missing; (created, existing) labels."""
    database = settings.crm_database
    created: list[str] = []
    existing: list[str] = []
    try:
        with root_connection(settings) as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s", (database,)
            )
            (created if cursor.fetchone()[0] == 0 else existing).append(f"mariadb database {database}")
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS {_quoted_name(database)}")
            cursor.execute(f"USE {_quoted_name(database)}")
            cursor.execute("SHOW TABLES")
            present = {row[0] for row in cursor.fetchall()}
            for table, ddl in zip(TABLES, TABLES_DDL, strict=True):
                cursor.execute(ddl)
                (existing if table in present else created).append(f"mariadb table {database}.{table}")
            users = (
                (settings.crm_user, settings.crm_password.reveal()),
                (settings.cdc_user, settings.cdc_password.reveal()),
            )
            for user, password in users:
                cursor.execute(
                    "SELECT COUNT(*) FROM mysql.user WHERE user = %s AND host = %s", (user, LOCAL_USER_HOST)
                )
                (created if cursor.fetchone()[0] == 0 else existing).append(f"mariadb user {user}")
                cursor.execute(
                    "CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (user, LOCAL_USER_HOST, password)
                )
                cursor.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, LOCAL_USER_HOST, password))
            cursor.execute(
                f"GRANT {CRM_GRANTS} ON {_quoted_name(database)}.* TO %s@%s",
                (settings.crm_user, LOCAL_USER_HOST),
            )
            cursor.execute(f"GRANT {CDC_GLOBAL_GRANTS} ON *.* TO %s@%s", (settings.cdc_user, LOCAL_USER_HOST))
            cursor.execute(
                f"GRANT SELECT ON {_quoted_name(database)}.* TO %s@%s", (settings.cdc_user, LOCAL_USER_HOST)
            )
    except pymysql.MySQLError as error:
        raise StackError(f"creating the CRM schema failed: {error}") from error
    return created, existing
