"""The stack's real Nessie (RocksDB version store under PERSONA_HOME) and s3proxy: health through their
APIs, branches created, listed and deleted, commits visible only on their branch until merged, the
note's pynessie CLI (API v1) against the same server, and the version store surviving a restart."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from persona.localstack import StackSettings, down, probe, status, up
from persona.localstack.catalog import PUBLICATION_NAMESPACE, ensure_nessie_main, nessie_client
from persona.localstack.configs import ICEBERG_BUCKET
from persona.localstack.objectstore import list_buckets, s3_request
from persona.nessie import NessieRest, ReferenceExists, ReferenceNotFound
from persona.nessie.client import NO_ANCESTOR
from persona.settings.secret import Secret

pytestmark = pytest.mark.integration


@pytest.fixture
def nessie(stack: StackSettings) -> NessieRest:
    return nessie_client(stack)


@pytest.fixture
def branch_name(nessie: NessieRest, unique_name: Callable[[str], str]) -> Iterator[Callable[[str], str]]:
    """``branch_name(prefix)``: a unique reference name, deleted at the end of the test if it exists."""
    made: list[str] = []

    def make(prefix: str) -> str:
        made.append(unique_name(prefix).replace("_", "-"))
        return made[-1]

    yield make
    for name in made:
        with contextlib.suppress(ReferenceNotFound):
            nessie.delete_reference(name)


def test_nessie_and_s3proxy_are_healthy_through_their_apis(stack: StackSettings) -> None:
    for service, port in (("nessie", stack.nessie_port), ("s3proxy", stack.s3_port)):
        healthy, detail = probe(stack, service, timeout=10.0)
        assert healthy, detail
        [row] = [s for s in status(stack, timeout=10.0) if s.name == service]
        assert (row.port, row.healthy, row.pid is not None) == (port, True, True)
    assert (stack.nessie_dir / "rocksdb").is_dir()
    assert ICEBERG_BUCKET in list_buckets(stack)
    assert (stack.s3_data_dir / ICEBERG_BUCKET).is_dir()


def test_s3proxy_refuses_a_wrong_secret_key(stack: StackSettings) -> None:
    wrong = dataclasses.replace(stack, s3_secret_key=Secret("not-the-secret"))
    response = s3_request(wrong, "GET", "/")
    assert response.status == 403
    assert b"SignatureDoesNotMatch" in response.body or b"AccessDenied" in response.body


def test_secrets_stay_in_private_files_and_out_of_the_logs(stack: StackSettings) -> None:
    secret = stack.s3_secret_key.reveal()
    for path in (
        stack.s3proxy_dir / "s3proxy.properties",
        stack.nessie_dir / "config" / "application.properties",
    ):
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
        assert secret in path.read_text()
    for service in ("s3proxy", "nessie"):
        assert secret not in (stack.logs_dir / f"{service}.log").read_text(errors="replace")


def test_branch_create_list_delete(nessie: NessieRest, branch_name: Callable[[str], str]) -> None:
    main = nessie.reference("main")
    name = branch_name("marketing-v2")
    created = nessie.create_branch(name)
    assert (created.name, created.kind, created.hash) == (name, "BRANCH", main.hash)
    assert name in {ref.name for ref in nessie.references()}
    with pytest.raises(ReferenceExists):
        nessie.create_branch(name)
    nessie.delete_reference(name)
    assert name not in {ref.name for ref in nessie.references()}
    with pytest.raises(ReferenceNotFound):
        nessie.reference(name)


def test_a_commit_is_visible_on_its_branch_only_until_merged(
    nessie: NessieRest, branch_name: Callable[[str], str]
) -> None:
    # A private "main" (base) and a work branch from it, so the shared main never changes. The base gets
    # a commit of its own first: Nessie merges need a common ancestor other than the empty root.
    base = nessie.create_branch(branch_name("base"))
    # Namespaces of its own: main may hold anything (a namespace that exists is only updated with its
    # content id).
    top = base.name.replace("-", "_")
    base = nessie.create_namespace(base.name, (top,), f"namespace {top}")
    work = nessie.create_branch(branch_name("work"), from_ref=base.name)
    namespace = (top, work.name.replace("-", "_"))
    head = nessie.create_namespace(work.name, namespace, f"namespace for {work.name}")
    assert head.hash != work.hash
    assert namespace in {entry.key for entry in nessie.entries(work.name)}
    assert namespace not in {entry.key for entry in nessie.entries(base.name)}
    assert namespace not in {entry.key for entry in nessie.entries("main")}
    assert nessie.log(work.name, limit=1)[0].message == f"namespace for {work.name}"

    merged = nessie.merge(work.name, into=base.name, message=f"merge {work.name}")
    assert merged.hash != base.hash
    assert namespace in {entry.key for entry in nessie.entries(base.name)}
    assert namespace not in {entry.key for entry in nessie.entries("main")}

    tag = nessie.create_tag(branch_name("release"), from_ref=base.name)
    assert (tag.kind, tag.hash) == ("TAG", merged.hash)


def _nessie_cli() -> str:
    found = shutil.which("nessie", path=str(Path(sys.executable).parent))
    assert found, "pynessie's `nessie` command is not installed in this environment (uv sync)"
    return found


def test_the_notes_nessie_branch_create_works_through_pynessie(
    stack: StackSettings, nessie: NessieRest, branch_name: Callable[[str], str]
) -> None:
    """The note's `nessie branch create marketing-v2`, in pynessie 0.67's syntax (`nessie branch NAME`),
    over API v1; the branch is then seen through API v2."""
    name = branch_name("marketing-v2")
    endpoint = f"{stack.nessie_url}/api/v1"
    env = {**os.environ, "HOME": str(stack.home / "pynessie-home")}  # pynessie keeps a config file there
    created = subprocess.run(
        [_nessie_cli(), "--endpoint", endpoint, "branch", name],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    assert nessie.reference(name).hash == nessie.reference("main").hash
    listed = subprocess.run(
        [_nessie_cli(), "--endpoint", endpoint, "branch"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert name in listed.stdout


def test_branches_survive_a_nessie_restart(
    stack: StackSettings, nessie: NessieRest, branch_name: Callable[[str], str]
) -> None:
    name = branch_name("durable")
    created = nessie.create_branch(name)
    assert down(stack, only=["nessie"])["nessie"] in ("stopped", "killed")
    report = up(stack, run_init=False, timeout=600.0)
    assert report.started == ("nessie",)
    assert nessie.reference(name) == created


def test_stack_init_gives_main_a_first_commit_so_branches_from_it_merge_with_a_message(
    stack: StackSettings, nessie: NessieRest, branch_name: Callable[[str], str]
) -> None:
    # The session's stack ran `stack init` (the fixture): main holds the publication's namespace.
    assert nessie.reference("main").hash != NO_ANCESTOR
    assert (PUBLICATION_NAMESPACE,) in {entry.key for entry in nessie.entries("main")}
    assert ensure_nessie_main(stack) is False  # once only: main is not at the root any more
    # A branch from main shares that ancestor: it merges (Nessie 0.99 merges nothing into the root),
    # and the merge commit carries its message. Into a copy of main, so the shared main never changes.
    target = nessie.create_branch(branch_name("target"), from_ref="main")
    work = nessie.create_branch(branch_name("work"), from_ref="main")
    own = (PUBLICATION_NAMESPACE, work.name.replace("-", "_"))
    nessie.create_namespace(work.name, own, f"namespace for {work.name}")
    nessie.merge(work.name, into=target.name, message=f"release of {work.name}")
    assert nessie.log(target.name, limit=1)[0].message == f"release of {work.name}"
