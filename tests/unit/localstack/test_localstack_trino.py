"""Trino's rendered etc/ files and command line, the catalog of a Nessie reference, the tarball's members."""

from __future__ import annotations

import dataclasses
import io
import re
import tarfile
from pathlib import Path

import pytest

from persona.localstack import StackError, StackSettings, configs
from persona.localstack.jars import RESOLVED_MARKER, classpath_dir, trino_member_wanted, unpack_trino
from persona.localstack.sqlengine import reference_catalog_name, run_sql
from persona.localstack.stack import (
    ALL_SERVICES,
    JAVA25_SERVICES,
    OPTIONAL_SERVICES,
    SERVICES,
    check_java25,
    service_port,
)


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def test_node_binds_and_announces_loopback_with_its_data_under_home(settings: StackSettings) -> None:
    node = _properties(configs.render_trino_node_properties(settings))
    assert node["node.internal-address"] == "127.0.0.1"
    assert node["node.bind-ip"] == "127.0.0.1"
    assert node["node.data-dir"] == str(settings.home / "trino" / "data")
    assert node["node.environment"] == configs.TRINO_ENVIRONMENT


def test_coordinator_is_its_own_worker_on_the_trino_port_with_the_cached_plugins(
    settings: StackSettings,
) -> None:
    install = Path("/cache/trino-0123/trino-server-476")
    config = _properties(configs.render_trino_config_properties(settings, install))
    assert config["coordinator"] == "true"
    assert config["node-scheduler.include-coordinator"] == "true"
    assert config["http-server.http.port"] == "28080"
    assert config["discovery.uri"] == "http://127.0.0.1:28080"
    assert config["plugin.dir"] == str(install / "plugin")
    store = _properties(configs.render_trino_catalog_store_properties(settings))
    assert store["catalog.config-dir"] == str(settings.home / "trino" / "etc" / "catalog")
    # Branches and tags become catalogs at run time (CREATE CATALOG).
    assert config["catalog.management"] == "dynamic"


def test_iceberg_catalog_reads_nessie_main_and_s3proxy_path_style_without_the_secret(
    settings: StackSettings,
) -> None:
    catalog = _properties(configs.render_trino_iceberg_properties(settings))
    assert catalog["connector.name"] == "iceberg"
    assert catalog["iceberg.catalog.type"] == "rest"
    assert catalog["iceberg.rest-catalog.uri"] == "http://127.0.0.1:29120/iceberg/main"
    assert catalog["iceberg.rest-catalog.warehouse"] == configs.NESSIE_WAREHOUSE
    assert catalog["s3.endpoint"] == "http://127.0.0.1:29000"
    assert catalog["s3.path-style-access"] == "true"
    assert "very-secret" not in configs.render_trino_iceberg_properties(settings)
    branch = configs.trino_iceberg_properties(settings, "marketing-v2")
    assert branch["iceberg.rest-catalog.uri"] == "http://127.0.0.1:29120/iceberg/marketing-v2"
    assert "very-secret" not in str(branch)


def test_the_s3_key_pair_is_in_the_credentials_file_only_never_on_the_command_line(
    settings: StackSettings,
) -> None:
    credentials = configs.render_trino_s3_credentials(settings)
    assert "[default]" in credentials
    assert "aws_access_key_id = ak" in credentials
    assert "aws_secret_access_key = very-secret" in credentials
    install = Path("/cache/trino-0123/trino-server-476")
    command = configs.trino_command(settings, install)
    assert command[0] == "/jdk25/bin/java"
    assert "-Xmx768M" in command
    assert f"-Daws.sharedCredentialsFile={settings.home / 'trino' / 'etc' / 's3-credentials'}" in command
    assert "-Dnode.internal-address=127.0.0.1" in command
    assert f"-Dconfig={settings.home / 'trino' / 'etc' / 'config.properties'}" in command
    assert command[-3:] == ["-cp", str(install / "lib" / "*"), configs.TRINO_MAIN_CLASS]
    assert configs.trino_marker(settings) in command
    assert "very-secret" not in " ".join(command)


def test_trino_is_an_optional_java25_service_on_its_own_port(settings: StackSettings) -> None:
    assert "trino" in OPTIONAL_SERVICES and "trino" not in SERVICES and "trino" in ALL_SERVICES
    assert "trino" in JAVA25_SERVICES
    assert service_port(settings, "trino") == 28080


@pytest.mark.parametrize(
    ("reference", "catalog"),
    [("main", "iceberg"), ("marketing-v2", "iceberg_marketing_v2"), ("rfm-20261207", "iceberg_rfm_20261207")],
)
def test_each_nessie_reference_is_a_catalog(reference: str, catalog: str) -> None:
    assert reference_catalog_name(reference) == catalog


def test_references_that_fold_to_one_readable_name_are_distinct_catalogs() -> None:
    names = [reference_catalog_name(r) for r in ("a-b", "a_b", "a.b", "A-b", "A_B")]
    assert len(set(names)) == len(names)
    assert names[0] == "iceberg_a_b"
    assert all(re.fullmatch(r"iceberg_a_b_[0-9a-f]{8}", name) for name in names[1:])
    assert reference_catalog_name("rfm-2026.12") == reference_catalog_name("rfm-2026.12")  # stable


@pytest.mark.parametrize("reference", ["", "2fast", "a/b", "x'; DROP", "-x"])
def test_reference_names_that_cannot_be_a_catalog_are_refused(reference: str) -> None:
    with pytest.raises(StackError, match="not a Nessie branch or tag name"):
        reference_catalog_name(reference)


def test_only_the_server_and_the_iceberg_connector_are_unpacked() -> None:
    top = configs.TRINO_SERVER_DIR
    assert trino_member_wanted(f"{top}/lib/trino-main-476.jar", top)
    assert trino_member_wanted(f"{top}/plugin/iceberg/trino-iceberg-476.jar", top)
    assert not trino_member_wanted(f"{top}/plugin/hive/trino-hive-476.jar", top)
    assert not trino_member_wanted(f"{top}/plugin/iceberg-extra/x.jar", top)
    assert not trino_member_wanted(f"{top}/bin/launcher", top)


def _resolved_dir(settings: StackSettings) -> Path:
    """The jar-cache directory of the pinned Trino pom, marked resolved as Maven would leave it."""
    resolved = classpath_dir(settings, "trino")
    resolved.mkdir(parents=True)
    (resolved / RESOLVED_MARKER).write_text("mvn …\n")
    return resolved


@pytest.fixture
def repo_settings(settings: StackSettings) -> StackSettings:
    repo = Path(__file__).resolve().parents[3]
    assert (repo / "infra" / "local" / "trino" / "pom.xml").is_file()
    return dataclasses.replace(settings, repo_root=repo)


def test_the_tarball_is_unpacked_once_without_the_other_plugins(repo_settings: StackSettings) -> None:
    resolved = _resolved_dir(repo_settings)
    top = configs.TRINO_SERVER_DIR
    with tarfile.open(resolved / f"{top}.tar.gz", "w:gz") as archive:
        for name in ("lib/trino-main.jar", "plugin/iceberg/trino-iceberg.jar", "plugin/hive/trino-hive.jar"):
            data = b"jar"
            member = tarfile.TarInfo(f"{top}/{name}")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    progress: list[str] = []
    install = unpack_trino(repo_settings, progress.append)
    assert install == resolved / top
    assert (install / "lib" / "trino-main.jar").is_file()
    assert (install / "plugin" / "iceberg" / "trino-iceberg.jar").is_file()
    assert not (install / "plugin" / "hive").exists()
    assert not (resolved / f"{top}.tar.gz").exists(), (
        "Maven's repository keeps the tarball; the cache does not"
    )
    assert len(progress) == 1
    assert unpack_trino(repo_settings, progress.append) == install
    assert len(progress) == 1, "unpacked once per machine"


def test_a_missing_tarball_says_how_to_resolve_it_again(repo_settings: StackSettings) -> None:
    resolved = _resolved_dir(repo_settings)
    with pytest.raises(StackError, match=f"tarball is missing from {resolved}; delete that directory"):
        unpack_trino(repo_settings, lambda message: None)


def test_no_java_25_is_a_clear_error(settings: StackSettings) -> None:
    with pytest.raises(StackError, match="Java 25\\+ is required to run Nessie and Trino"):
        check_java25(dataclasses.replace(settings, java25="/nonexistent/jdk/bin/java"))


def test_sql_without_a_running_trino_says_how_to_start_it(settings: StackSettings) -> None:
    # Nothing listens on the fixture's port 28080.
    with pytest.raises(StackError, match=r"Trino is not running on 127\.0\.0\.1:28080: start it with"):
        run_sql(settings, "SELECT 1")
