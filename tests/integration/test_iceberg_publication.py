"""Iceberg tables published through Nessie's Iceberg REST catalog (pyiceberg) into s3proxy: created and
overwritten on a Nessie branch, read back, invisible on main, time travel through a Nessie tag or hash."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pyarrow as pa
import pytest

from persona.iceberg import read_all, replace_contents
from persona.localstack import StackSettings
from persona.localstack.catalog import iceberg_catalog, nessie_client
from persona.nessie import ReferenceNotFound

pytestmark = pytest.mark.integration


@pytest.fixture
def branch(stack: StackSettings, unique_name: Callable[[str], str]) -> Iterator[str]:
    """A private Nessie branch from main (the shared main never changes), deleted afterwards."""
    nessie = nessie_client(stack)
    name = unique_name("publish").replace("_", "-")
    nessie.create_branch(name)
    yield name
    with contextlib.suppress(ReferenceNotFound):
        nessie.delete_reference(name)


def _segments(n: int, segment: str) -> pa.Table:
    return pa.table(
        {
            "customer_id": pa.array([f"c{i}" for i in range(n)], pa.string()),
            "segment": pa.array([segment] * n, pa.string()),
            "score": pa.array([float(i % 100) for i in range(n)], pa.float64()),
        }
    )


def test_publish_overwrites_on_its_branch_only(stack: StackSettings, branch: str) -> None:
    catalog = iceberg_catalog(stack, branch)
    # A table of its own: main (and so the branch) may hold persona's own publication (`persona publish`
    # on this stack), which must not move.
    table = "segments_" + branch.replace("-", "_")
    identifier = f"persona.{table}"
    main_head = nessie_client(stack).reference("main").hash
    first = replace_contents(catalog, identifier, _segments(1000, "VIP"))
    assert (first.created, first.rows) == (True, 1000)
    second = replace_contents(catalog, identifier, _segments(600, "AT_RISK"))
    assert (second.created, second.rows) == (False, 600)
    current = read_all(catalog, identifier)
    assert current.num_rows == 600
    assert set(current.column("segment").to_pylist()) == {"AT_RISK"}
    # Time travel goes through Nessie: Nessie 0.99's catalog keeps only the current snapshot in the
    # Iceberg metadata (its history is Nessie's commit log), so an older publication is read through a
    # Nessie tag or a commit hash as the catalog's prefix, not by Iceberg snapshot id.
    assert [snap.snapshot_id for snap in catalog.load_table(identifier).metadata.snapshots] == [
        second.snapshot_id
    ]
    nessie = nessie_client(stack)
    release = nessie.create_tag(f"{branch}-r2", from_ref=branch)
    try:
        replace_contents(catalog, identifier, _segments(50, "NEW"))
        assert read_all(catalog, identifier).num_rows == 50
        assert read_all(iceberg_catalog(stack, release.name), identifier).num_rows == 600
        assert read_all(iceberg_catalog(stack, f"{branch}@{release.hash}"), identifier).num_rows == 600
    finally:
        nessie.delete_reference(release.name)
    # Nessie committed the table to the branch only.
    assert ("persona", table) in {e.key for e in nessie.entries(branch)}
    assert nessie.reference("main").hash == main_head
