"""The Debezium connector's config, the worker's properties and the GTID lag (pure, no Connect)."""

from __future__ import annotations

from pathlib import Path

import pytest

from persona.localstack import StackSettings
from persona.localstack.configs import render_connect_properties
from persona.localstack.connect import (
    connector_config,
    default_connector,
    gtid_lag,
    offset_lag,
    write_secrets,
)
from persona.settings.secret import Secret


@pytest.fixture
def settings(tmp_path: Path) -> StackSettings:
    return StackSettings(
        home=tmp_path,
        warehouse=tmp_path / "w",
        jar_cache=tmp_path / "j",
        repo_root=None,
        mariadb_port=23306,
        connect_port=28083,
        cdc_password=Secret("s3cr=t:#x"),
    )


def test_the_connector_routes_crm_orders_to_orders_cdc_keyed_by_order_id(settings: StackSettings) -> None:
    config = connector_config(settings, default_connector(settings), Path("/secrets/cdc.properties"))
    assert config["connector.class"] == "io.debezium.connector.mariadb.MariaDbConnector"
    assert config["table.include.list"] == "crm.orders"
    assert config["transforms.route.replacement"] == "orders_cdc"
    assert config["transforms.key.field"] == "order_id"
    assert config["decimal.handling.mode"] == "string"
    assert config["database.port"] == "23306"
    assert config["value.converter.schemas.enable"] == "false"
    assert config["tombstones.on.delete"] == "false"
    # The password is a reference to a private file, never in the config the REST API stores.
    assert config["database.password"] == "${file:/secrets/cdc.properties:password}"
    assert "s3cr=t" not in "".join(config.values())


def test_the_secret_file_is_private_and_escaped_as_a_properties_value(settings: StackSettings) -> None:
    path = write_secrets(settings)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text() == "password=s3cr\\=t\\:\\#x\n"


def test_the_worker_keeps_its_state_in_kafka_and_reads_secrets_from_files(settings: StackSettings) -> None:
    lines = render_connect_properties(settings, Path("/plugins")).splitlines()
    properties = dict(line.split("=", 1) for line in lines if not line.startswith("#"))
    assert properties["listeners"] == "http://127.0.0.1:28083"
    assert {
        properties[k] for k in ("config.storage.topic", "offset.storage.topic", "status.storage.topic")
    } == {
        "_persona_connect_configs",
        "_persona_connect_offsets",
        "_persona_connect_status",
    }
    assert properties["plugin.path"] == "/plugins"
    assert properties["config.providers.file.class"].endswith("FileConfigProvider")


@pytest.mark.parametrize(
    ("server", "connector", "lag"),
    [
        ("0-1-57", "0-1-57", 0),
        ("0-1-60", "0-1-57", 3),
        ("0-1-60,1-2-5", "0-1-60", 5),
        ("0-1-60", "0-1-61", 0),
        ("", "0-1-3", 0),
    ],
)
def test_gtid_lag_counts_transactions_the_connector_has_not_committed(
    server: str, connector: str, lag: int
) -> None:
    assert gtid_lag(server, connector) == lag


# Offsets as Debezium 3.5's MariaDB connector committed them on the local stack.
IDLE_AFTER_ITS_LAST_CHANGE = {
    "ts_sec": 1795923601,
    "file": "mariadb-bin.000002",
    "pos": 5338747,
    "gtids": "0-1-331",
    "row": 1,
    "server_id": 1,
    "event": 6002,
}
BETWEEN_TRANSACTIONS = {"ts_sec": 1795923665, "file": "mariadb-bin.000002", "pos": 5970200, "gtids": "0-1-336"}


@pytest.mark.parametrize(
    ("server", "offset", "lag"),
    [
        # Every row of transaction 332 delivered, its commit moves no offset: caught up, not 1 behind.
        ("0-1-332", IDLE_AFTER_ITS_LAST_CHANGE, 0),
        # Two more transactions written since.
        ("0-1-334", IDLE_AFTER_ITS_LAST_CHANGE, 2),
        # Resuming at the start of transaction 337: it counts.
        ("0-1-337", BETWEEN_TRANSACTIONS, 1),
        ("0-1-336", BETWEEN_TRANSACTIONS, 0),
        # The snapshot's offsets have no GTIDs yet: unknown.
        ("0-1-336", {"file": "mariadb-bin.000002", "pos": 4, "snapshot": True}, None),
    ],
)
def test_the_lag_counts_a_transaction_begun_by_the_connector_as_reached(
    server: str, offset: dict[str, object], lag: int | None
) -> None:
    assert offset_lag(server, offset) == lag
