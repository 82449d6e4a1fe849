"""infra/terraform, offline: the providers are built from the Go module proxy into a filesystem mirror
(infra/terraform/providers/build-mirror.sh, once per machine), then `terraform init` installs them
from that mirror alone, and `terraform validate` and `terraform plan` run on the plan-only
configuration (infra/terraform/plan-only: a cluster address where nothing listens). The plan must
create the namespace, the four secrets and one object per object of the rendered prod overlay."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from deploy_support import K8S, ROOT, objects, tool

TERRAFORM_DIR = ROOT / "infra" / "terraform"


@pytest.fixture(scope="module")
def mirror() -> Path:
    tool("go", "Go is on the machine image")
    done = subprocess.run(
        [str(TERRAFORM_DIR / "providers" / "build-mirror.sh")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"building the provider mirror failed:\n{done.stderr[-4000:]}"
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> tuple[Path, dict[str, str]]:
    """A copy of infra/terraform and k8s (so init's lock file and .terraform stay out of the checkout),
    and an environment whose CLI configuration installs providers from the mirror and nowhere else."""
    root = tmp_path_factory.mktemp("terraform")
    shutil.copytree(TERRAFORM_DIR, root / "infra" / "terraform")
    shutil.copytree(K8S, root / "k8s")
    config = root / "terraformrc"
    config.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n')
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(config),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }
    return root / "infra" / "terraform" / "plan-only", env


def terraform(workdir: tuple[Path, dict[str, str]], *args: str) -> str:
    binary = tool("terraform", "Terraform 1.11 is on the machine image")
    directory, env = workdir
    done = subprocess.run(
        [binary, f"-chdir={directory}", *args], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, f"terraform {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_init_validate_and_plan_offline(workdir: tuple[Path, dict[str, str]]) -> None:
    terraform(workdir, "init", "-input=false", "-no-color")
    assert "Success! The configuration is valid." in terraform(workdir, "validate", "-no-color")
    terraform(workdir, "plan", "-input=false", "-no-color", "-lock=false", "-out=plan.bin")
    plan: dict[str, Any] = json.loads(terraform(workdir, "show", "-json", "plan.bin"))
    created = [c for c in plan["resource_changes"] if c["change"]["actions"] == ["create"]]
    types: dict[str, int] = {}
    for change in created:
        types[change["type"]] = types.get(change["type"], 0) + 1
    assert types.pop("kubernetes_namespace_v1") == 1
    assert types.pop("kubernetes_secret_v1") == 4
    assert types == {"kustomization_resource": len(objects(K8S / "overlays" / "prod"))}
    assert len(created) == len(plan["resource_changes"]), "the plan only creates"
