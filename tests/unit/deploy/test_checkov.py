"""checkov (pinned in infra/scan's own lock) on the rendered overlays and on infra/terraform: no failing
check. A finding accepted on purpose is skipped where it arises, with its reason: a
`checkov.io/skipN` annotation in k8s/, a `#checkov:skip=ID:reason` comment in the Terraform."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from deploy_support import RENDERED, ROOT, kustomize, tool


def checkov(*args: str) -> subprocess.CompletedProcess[str]:
    uv = tool("uv", "./dev installs uv")
    env = {
        **os.environ,
        # No Prisma Cloud: the checks are the ones checkov ships; nothing is fetched or sent.
        "BC_SKIP_MAPPING": "TRUE",
        "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
    }
    command = [uv, "run", "--project", str(ROOT / "infra" / "scan"), "--locked", "--quiet", "checkov"]
    command += ["--skip-download", "--compact", "--quiet", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)


def test_checkov_passes_the_rendered_manifests(tmp_path: Path) -> None:
    for name, path in RENDERED.items():
        (tmp_path / (name.replace("/", "-") + ".yaml")).write_text(kustomize(path))
    done = checkov("--directory", str(tmp_path), "--framework", "kubernetes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Failed checks: 0" in done.stdout or not done.stdout.strip(), done.stdout


def test_checkov_passes_the_terraform() -> None:
    done = checkov("--directory", str(ROOT / "infra" / "terraform"), "--framework", "terraform")
    assert done.returncode == 0, done.stdout + done.stderr
