"""The history catalog's (Apache Iceberg's REST catalog server) rendered configuration, command line
and Trino catalog; the RCKUtils naming rule the server applies to ``CATALOG_*`` variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from persona.localstack import StackSettings, configs
from persona.localstack.errors import StackError
from persona.localstack.sqlengine import run_sql


def catalog_property(variable: str) -> str:
    """What RESTCatalogServer (RCKUtils.environmentCatalogConfig) makes of a ``CATALOG_*`` variable:
    the prefix dropped, ``__`` -> ``-``, ``_`` -> ``.``, lower case."""
    return variable.removeprefix("CATALOG_").replace("__", "-").replace("_", ".").lower()


def test_the_server_is_a_jdbc_catalog_on_sqlite_under_home_with_s3fileio_on_s3proxy(
    settings: StackSettings,
) -> None:
    environment = configs.iceberg_rest_environment(settings)
    properties = {catalog_property(k): v for k, v in environment.items() if k.startswith("CATALOG_")}
    assert properties == {
        "catalog-impl": "org.apache.iceberg.jdbc.JdbcCatalog",
        "uri": f"jdbc:sqlite:{settings.home / 'iceberg-rest' / 'catalog.db'}",
        "jdbc.schema-version": "V1",
        "warehouse": "s3://persona-iceberg/history",
        "io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
        "s3.endpoint": "http://127.0.0.1:29000",
        "s3.path-style-access": "true",
        "rest.port": "28181",
    }
    assert environment["AWS_REGION"] == configs.S3_REGION


def test_the_s3_secret_is_in_no_logged_catalog_property_nor_the_command_line(
    settings: StackSettings,
) -> None:
    # The server logs its catalog properties at start: the key pair reaches the AWS SDK's credentials
    # chain as environment variables of its own instead.
    assert "very-secret" not in " ".join(configs.iceberg_rest_environment(settings).values())
    credentials = configs.iceberg_rest_credentials(settings)
    assert (credentials["AWS_ACCESS_KEY_ID"], credentials["AWS_SECRET_ACCESS_KEY"]) == ("ak", "very-secret")
    # No profile of the user's (~/.aws) overrides them.
    assert credentials["AWS_CONFIG_FILE"].startswith(str(settings.home))
    command = configs.iceberg_rest_command(settings, Path("/cache/iceberg-rest-x"))
    assert "very-secret" not in " ".join(command)
    assert command[0] == "/jdk17/bin/java"
    assert command[-3:] == ["-cp", "/cache/iceberg-rest-x/*", str(configs.ICEBERG_REST_LAUNCHER)]
    assert configs.ICEBERG_REST_LAUNCHER.is_file()
    assert configs.iceberg_rest_marker(settings) in command
    assert "-Dpersona.iceberg-rest.host=127.0.0.1" in command  # never every interface


def test_trino_has_a_history_catalog_on_the_history_server(settings: StackSettings) -> None:
    text = configs.render_trino_history_properties(settings)
    properties = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert properties["connector.name"] == "iceberg"
    assert properties["iceberg.rest-catalog.uri"] == "http://127.0.0.1:28181"
    assert properties["s3.endpoint"] == "http://127.0.0.1:29000"
    assert "very-secret" not in text


def test_the_history_port_is_one_of_the_stack_ports(settings: StackSettings) -> None:
    assert settings.ports["iceberg-rest"] == 28181
    with pytest.raises(StackError, match="distinct"):
        StackSettings(
            home=settings.home,
            warehouse=settings.warehouse,
            jar_cache=settings.jar_cache,
            repo_root=None,
            iceberg_rest_port=28181,
            trino_port=28181,
        )


def test_the_history_catalog_holds_main_only(settings: StackSettings) -> None:
    with pytest.raises(StackError, match="main's publications only"):
        run_sql(settings, "SELECT 1", reference="marketing-v2", history=True)
