"""The stack settings the localstack unit tests render configurations from: ports of their own,
fake Java and Prometheus paths, and a secret the tests look for where it must not be."""

from __future__ import annotations

from pathlib import Path

import pytest

from persona.localstack import StackSettings
from persona.settings.secret import Secret


@pytest.fixture
def settings(tmp_path: Path) -> StackSettings:
    return StackSettings(
        home=tmp_path / "home",
        warehouse=tmp_path / "home" / "warehouse",
        jar_cache=tmp_path / "jars",
        repo_root=tmp_path,
        nessie_port=29120,
        s3_port=29000,
        iceberg_rest_port=28181,
        trino_port=28080,
        prometheus_port=29090,
        prometheus="/usr/bin/prometheus",
        trino_heap="768M",
        s3_access_key="ak",
        s3_secret_key=Secret("very-secret"),
        java="/jdk17/bin/java",
        java25="/jdk25/bin/java",
    )
