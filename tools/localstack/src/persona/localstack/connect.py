"""Debezium on the local Kafka Connect worker: the connector that turns the CRM's binlog into
``orders_cdc``, registered idempotently over Connect's REST API, and its state and lag.

The connector's output is the DESIGN §3 contract as the cdc flow reads it: the Debezium envelope of a
``crm.orders`` row, keyed by order_id (a decimal string), decimals as strings, times as epoch millis.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from persona.contracts import Topics
from persona.localstack.crm_schema import root_connection
from persona.localstack.errors import StackError
from persona.localstack.procs import private_dir
from persona.localstack.settings import StackSettings

CONNECTOR_NAME = "persona-crm-orders"
# Debezium joins the MariaDB server as a replica: its id must differ from the server's (1) and from
# every other connector's.
CONNECTOR_SERVER_ID = 5401
# Debezium's logical name of the CRM: the prefix of its own topics (the schema history's).
CONNECTOR_TOPIC_PREFIX = "persona_crm"
MARIADB_CONNECTOR_CLASS = "io.debezium.connector.mariadb.MariaDbConnector"


@dataclass(frozen=True)
class CdcConnector:
    """One Debezium connector of the CRM's ``orders`` table; tests register private ones."""

    name: str
    target_topic: str
    server_id: int
    topic_prefix: str
    # Values as {"schema": ..., "payload": envelope} instead of the bare envelope (the cdc flow reads both).
    with_schemas: bool = False
    table: str = "orders"
    # "initial": every existing row first (op "r"), then the binlog; "no_data": only changes from now.
    snapshot_mode: str = "initial"


def default_connector(settings: StackSettings) -> CdcConnector:
    """The stack's connector: ``crm.orders`` to the pipeline's ``orders_cdc``."""
    return CdcConnector(
        name=CONNECTOR_NAME,
        target_topic=Topics().orders_cdc,
        server_id=CONNECTOR_SERVER_ID,
        topic_prefix=CONNECTOR_TOPIC_PREFIX,
    )


def secrets_file(settings: StackSettings) -> Path:
    return settings.connect_dir / "secrets" / "crm-cdc.properties"


def write_secrets(settings: StackSettings) -> Path:
    """The CDC user's password in a file only this user can read, which the connector config names."""
    path = secrets_file(settings)
    private_dir(path.parent)
    # Properties-file escaping of the value: backslashes first, then the characters it treats specially.
    value = settings.cdc_password.reveal().replace("\\", "\\\\").replace("\n", "\\n")
    value = re.sub(r"([:=#!])", r"\\\1", value)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(f"password={value}\n")
    return path


def connector_config(settings: StackSettings, connector: CdcConnector, secrets: Path) -> dict[str, str]:
    database = settings.crm_database
    return {
        "connector.class": MARIADB_CONNECTOR_CLASS,
        "tasks.max": "1",
        "database.hostname": settings.crm_host,
        "database.port": str(settings.mariadb_port),
        "database.user": settings.cdc_user,
        "database.password": f"${{file:{secrets}:password}}",
        "database.server.id": str(connector.server_id),
        "topic.prefix": connector.topic_prefix,
        "database.include.list": database,
        "table.include.list": f"{database}.{connector.table}",
        "schema.history.internal.kafka.bootstrap.servers": settings.kafka_bootstrap,
        "schema.history.internal.kafka.topic": f"_{connector.topic_prefix}.schema_history",
        "include.schema.changes": "false",
        # DESIGN §3: amounts as decimal strings, times as epoch millis (DATETIME(3) as Connect Timestamps).
        "decimal.handling.mode": "string",
        "time.precision.mode": "connect",
        # orders_cdc is a change log, not a compacted table: a delete is its "d" envelope, no tombstone.
        "tombstones.on.delete": "false",
        "snapshot.mode": connector.snapshot_mode,
        # Every change to the one topic of the contract, keyed by the bare order_id.
        "transforms": "route,key",
        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": ".*",
        "transforms.route.replacement": connector.target_topic,
        "transforms.key.type": "org.apache.kafka.connect.transforms.ExtractField$Key",
        "transforms.key.field": "order_id",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "true" if connector.with_schemas else "false",
        # Latency over batching: a change is handed to Kafka as soon as it is read.
        "poll.interval.ms": "100",
        "producer.override.linger.ms": "5",
    }


def _rest(settings: StackSettings, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
    url = f"http://127.0.0.1:{settings.connect_port}{path}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:500]
        raise StackError(f"Kafka Connect refused {method} {path}: HTTP {error.code} {detail}") from None
    except (urllib.error.URLError, OSError) as error:
        raise StackError(f"Kafka Connect at {url} did not answer: {error}") from None
    return json.loads(raw) if raw else None


def connect_version(settings: StackSettings, timeout: float = 3.0) -> str:
    """The worker's version from its REST root: the health probe."""
    return str(_rest(settings, "GET", "/", timeout=timeout)["version"])


def ensure_connector(settings: StackSettings, connector: CdcConnector | None = None) -> bool:
    """Create or update the connector (PUT of its config is idempotent); True if it was created."""
    connector = connector or default_connector(settings)
    config = connector_config(settings, connector, write_secrets(settings))
    existing = _rest(settings, "GET", "/connectors")
    _rest(settings, "PUT", f"/connectors/{connector.name}/config", config, timeout=30.0)
    return connector.name not in existing


def delete_connector(settings: StackSettings, name: str) -> None:
    _rest(settings, "DELETE", f"/connectors/{name}")


@dataclass(frozen=True)
class ConnectorState:
    name: str
    state: str  # RUNNING, PAUSED, FAILED, UNASSIGNED, or MISSING when not registered
    tasks: tuple[str, ...]
    trace: str | None = None
    # Transactions in MariaDB's binlog that the connector has not committed yet; None when unknown.
    lag: int | None = None

    @property
    def running(self) -> bool:
        return self.state == "RUNNING" and bool(self.tasks) and all(task == "RUNNING" for task in self.tasks)

    def describe(self) -> str:
        text = f"connector {self.name} {self.state}"
        if self.tasks:
            text += f" (tasks {', '.join(self.tasks)})"
        if self.lag is not None:
            text += f", lag {self.lag} transaction{'s' if self.lag != 1 else ''}"
        if self.trace:
            text += f": {self.trace}"
        return text


def _gtid_seqnos(gtids: str) -> dict[tuple[int, int], int]:
    """``"0-1-45,1-2-7"`` -> {(domain, server): seqno}."""
    result: dict[tuple[int, int], int] = {}
    for part in filter(None, (piece.strip() for piece in gtids.split(","))):
        domain, server, seqno = (int(x) for x in part.split("-"))
        result[(domain, server)] = seqno
    return result


def gtid_lag(server_position: str, connector_position: str) -> int:
    """Transactions in ``server_position`` past ``connector_position`` (MariaDB GTID lists)."""
    connector = _gtid_seqnos(connector_position)
    return sum(max(0, seqno - connector.get(key, 0)) for key, seqno in _gtid_seqnos(server_position).items())


def offset_lag(server_position: str, offset: dict[str, Any]) -> int | None:
    """Transactions of the binlog the connector's committed source ``offset`` has not reached.

    Debezium's binlog offset is where a restart resumes: ``gtids`` are the transactions finished
    before the one in progress, and ``event``/``row`` count what of that one was already delivered.
    Its last transaction's commit moves no offset (no record follows it), so an idle connector stays
    inside that transaction with everything of it delivered: counting it would show a lag of 1 that
    never clears. A transaction begun counts as reached (a big one may still have rows to come).
    """
    gtids = offset.get("gtids")
    if gtids is None:
        return None
    begun = 1 if offset.get("event", 0) or offset.get("row", 0) else 0
    return max(0, gtid_lag(server_position, gtids) - begun)


def connector_state(settings: StackSettings, name: str = CONNECTOR_NAME) -> ConnectorState:
    try:
        status = _rest(settings, "GET", f"/connectors/{name}/status")
    except StackError as error:
        if "HTTP 404" in str(error):
            return ConnectorState(name, "MISSING", ())
        raise
    tasks = tuple(task["state"] for task in status.get("tasks", []))
    traces = [task.get("trace") for task in status.get("tasks", []) if task.get("trace")]
    trace = status["connector"].get("trace") or (traces[0] if traces else None)
    head = trace.strip().splitlines()[0][:300] if trace else None
    return ConnectorState(name, status["connector"]["state"], tasks, head, _lag(settings, name))


def _lag(settings: StackSettings, name: str) -> int | None:
    try:
        offsets = _rest(settings, "GET", f"/connectors/{name}/offsets").get("offsets", [])
        with root_connection(settings, timeout=3.0) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT @@gtid_binlog_pos")
            (server_position,) = cursor.fetchone()
    except StackError:
        return None
    committed = [entry["offset"] for entry in offsets if entry.get("offset")]
    if not committed:
        # Nothing committed yet: the snapshot is still running (or has not begun).
        return None
    return offset_lag(server_position or "", committed[0])


def ensure_running_connector(
    settings: StackSettings, connector: CdcConnector | None = None, timeout: float = 90.0
) -> tuple[bool, ConnectorState]:
    """Register (or update) the connector and wait until it and its task run; (created, state).

    A connector that fails raises with the head of its trace, e.g. a CDC user without the grants.
    """
    connector = connector or default_connector(settings)
    created = ensure_connector(settings, connector)
    deadline = time.monotonic() + timeout
    while True:
        state = connector_state(settings, connector.name)
        if state.running:
            return created, state
        if state.state == "FAILED" or "FAILED" in state.tasks:
            raise StackError(f"the CDC {state.describe()}; `persona stack logs connect` has the whole trace")
        if time.monotonic() >= deadline:
            raise StackError(f"the CDC {state.describe()} did not start within {timeout:.0f} s")
        time.sleep(0.5)  # polling interval while the connector's task starts
