"""Shared helpers of the deployment tests: the repo's paths and the tools they run."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "k8s"
OVERLAYS = ("local", "prod")
# Everything rendered and validated: each overlay, and the Argo CD Applications.
RENDERED = {f"overlays/{name}": K8S / "overlays" / name for name in OVERLAYS} | {"gitops": K8S / "gitops"}


def tool(name: str, how: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} was not found on PATH: {how}", pytrace=False)
    return found


@cache
def kustomize(path: Path) -> str:
    """The overlay rendered by `kubectl kustomize` (kubectl's built-in Kustomize), once per test session."""
    kubectl = tool("kubectl", "kubectl (with its built-in Kustomize) is on the machine image")
    done = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"kubectl kustomize {path} failed:\n{done.stderr}"
    return done.stdout


def objects(path: Path) -> list[dict[str, Any]]:
    """The rendered objects, parsed anew on each call (so a test may change them)."""
    return [document for document in yaml.safe_load_all(kustomize(path)) if document]
