"""Nessie's and s3proxy's rendered configuration and command lines, SigV4 signing, Java 25 lookup."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from persona.localstack import StackSettings, configs
from persona.localstack.objectstore import EMPTY_PAYLOAD_SHA256, sigv4_headers
from persona.localstack.settings import _jdk_major_from_name, _resolve_java25
from persona.nessie import NessieError, check_reference_name


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def test_s3proxy_serves_the_filesystem_backend_under_home_with_the_stack_credentials(
    settings: StackSettings,
) -> None:
    properties = _properties(configs.render_s3proxy_properties(settings))
    assert properties["s3proxy.endpoint"] == "http://127.0.0.1:29000"
    assert properties["jclouds.provider"] == "filesystem"
    assert properties["jclouds.filesystem.basedir"] == str(settings.home / "s3proxy" / "data")
    assert (properties["s3proxy.identity"], properties["s3proxy.credential"]) == ("ak", "very-secret")
    command = configs.s3proxy_command(settings, Path("/cache/s3proxy-4.1.0-jar-with-dependencies.jar"))
    assert command[0] == "/jdk17/bin/java"
    # The secret reaches s3proxy through its private file only: never on the command line.
    assert "very-secret" not in " ".join(command)
    assert command[-2:] == ["--properties", str(settings.home / "s3proxy" / "s3proxy.properties")]


def test_nessie_keeps_a_rocksdb_store_under_home_and_its_warehouse_in_s3proxy(
    settings: StackSettings,
) -> None:
    properties = _properties(configs.render_nessie_properties(settings))
    assert properties["quarkus.http.port"] == "29120"
    assert properties["quarkus.http.host"] == "127.0.0.1"
    assert properties["nessie.version.store.type"] == "ROCKSDB"
    assert properties["nessie.version.store.persist.rocks.database-path"] == str(
        settings.home / "nessie" / "rocksdb"
    )
    warehouse = configs.NESSIE_WAREHOUSE
    assert properties[f"nessie.catalog.warehouses.{warehouse}.location"] == f"s3://{configs.ICEBERG_BUCKET}/"
    s3 = "nessie.catalog.service.s3.default-options"
    assert properties[f"{s3}.endpoint"] == "http://127.0.0.1:29000/"
    secret_urn = properties[f"{s3}.access-key"]
    assert secret_urn.startswith("urn:nessie-secret:quarkus:")
    name = secret_urn.removeprefix("urn:nessie-secret:quarkus:")
    assert (properties[f"{name}.name"], properties[f"{name}.secret"]) == ("ak", "very-secret")
    command = configs.nessie_command(settings, Path("/cache/nessie-quarkus-0.99.0-runner.jar"))
    assert command[0] == "/jdk25/bin/java"
    assert configs.nessie_marker(settings) in command
    assert "very-secret" not in " ".join(command)


def test_settings_reprs_never_show_the_s3_secret(settings: StackSettings) -> None:
    assert "very-secret" not in repr(settings)


# AWS's documented SigV4 example for S3 (GET Object, "Example: GET Object" of the Signature Version 4
# reference): the signature below is the one AWS publishes for these inputs.
def test_sigv4_matches_the_aws_documented_get_object_example() -> None:
    headers = sigv4_headers(
        method="GET",
        host="examplebucket.s3.amazonaws.com",
        path="/test.txt",
        query={},
        headers={"Range": "bytes=0-9"},
        payload_sha256=EMPTY_PAYLOAD_SHA256,
        access_key="AKIAIOSFODNN7EXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        now=dt.datetime(2013, 5, 24, tzinfo=dt.UTC),
    )
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    assert headers["x-amz-date"] == "20130524T000000Z"


@pytest.mark.parametrize(
    ("name", "major"),
    [
        ("temurin-25-jdk-amd64", 25),
        ("java-17-openjdk-amd64", 17),
        ("java-1.17.0-openjdk-amd64", 17),
        ("openjdk-17", 17),
        ("default-java", None),
    ],
)
def test_jdk_major_from_directory_name(name: str, major: int | None) -> None:
    assert _jdk_major_from_name(name) == major


def test_java25_is_the_newest_jdk_25_or_later_unless_given(tmp_path: Path) -> None:
    for name in ("java-17-openjdk-amd64", "temurin-25-jdk-amd64", "temurin-26-jdk-amd64", "jdk-27-broken"):
        (tmp_path / name / "bin").mkdir(parents=True)
        if name != "jdk-27-broken":
            (tmp_path / name / "bin" / "java").touch()
    assert _resolve_java25({"PATH": ""}, tmp_path) == str(tmp_path / "temurin-26-jdk-amd64" / "bin" / "java")
    assert _resolve_java25({"PERSONA_JAVA25": "/opt/j/bin/java"}, tmp_path) == "/opt/j/bin/java"
    assert _resolve_java25({"PATH": "", "PERSONA_JAVA": "/x/java"}, tmp_path / "none") == "/x/java"


@pytest.mark.parametrize("name", ["main", "marketing-v2", "release/rfm-20261207", "a.b_c"])
def test_valid_nessie_reference_names(name: str) -> None:
    assert check_reference_name(name) == name


@pytest.mark.parametrize("name", ["", "2fast", "a..b", "ends.", "ends/", "sp ace", "-x"])
def test_invalid_nessie_reference_names_are_refused_before_any_request(name: str) -> None:
    with pytest.raises(NessieError, match="invalid Nessie reference name"):
        check_reference_name(name)
