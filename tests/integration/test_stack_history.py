"""The history catalog (Apache Iceberg's REST catalog server, service ``iceberg-rest``) in the stack:
healthy through its API, its S3 secret out of its log, its tables and snapshots kept across a restart
(the SQLite catalog under home, the metadata and data files in s3proxy)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.exceptions import NoSuchTableError

from persona.iceberg import replace_contents, tag_snapshot
from persona.localstack import StackSettings, down, probe, status, up
from persona.localstack.catalog import history_catalog

pytestmark = pytest.mark.integration


def test_the_history_catalog_is_healthy_through_its_api(stack: StackSettings) -> None:
    healthy, detail = probe(stack, "iceberg-rest", timeout=10.0)
    assert healthy, detail
    assert detail.startswith("Iceberg REST catalog"), detail
    [row] = [s for s in status(stack, timeout=10.0) if s.name == "iceberg-rest"]
    assert (row.port, row.healthy, row.pid is not None) == (stack.iceberg_rest_port, True, True)
    assert (stack.iceberg_rest_dir / "catalog.db").is_file()
    # The server logs its catalog properties: the S3 key pair is not among them.
    log = (stack.logs_dir / "iceberg-rest.log").read_text(errors="replace")
    assert "catalog with properties" in log
    assert stack.s3_secret_key.reveal() not in log
    # Loopback only (the fixture's own main would bind every interface).
    assert _listening_addresses(stack.iceberg_rest_port) == {"127.0.0.1"}


def _listening_addresses(port: int) -> set[str]:
    """The local IPv4 addresses (IPv4-mapped ones included) with a socket listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:
                continue
            # The last 8 hex digits are the IPv4 address (little-endian words), mapped or not.
            found.add(".".join(str(int(address[-8:][i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def test_tables_snapshots_and_tags_survive_a_restart(stack: StackSettings) -> None:
    catalog = history_catalog(stack)
    identifier = f"persona.restart_{os.urandom(5).hex()}"
    try:
        first = replace_contents(catalog, identifier, pa.table({"n": [1, 2, 3]}))
        tag_snapshot(catalog.load_table(identifier), "rfm-20261201")
        second = replace_contents(catalog, identifier, pa.table({"n": [4]}))
        assert down(stack, only=["iceberg-rest"])["iceberg-rest"] in ("stopped", "killed")
        report = up(stack, run_init=False, timeout=600.0)
        assert report.started == ("iceberg-rest",)
        table = history_catalog(stack).load_table(identifier)
        assert table.current_snapshot() is not None
        assert table.current_snapshot().snapshot_id == second.snapshot_id
        assert table.metadata.refs["rfm-20261201"].snapshot_id == first.snapshot_id
        assert table.scan(snapshot_id=first.snapshot_id).to_arrow().column("n").to_pylist() == [1, 2, 3]
    finally:
        with contextlib.suppress(NoSuchTableError):
            history_catalog(stack).drop_table(identifier)


def test_each_replacement_is_one_snapshot_on_the_previous(stack: StackSettings) -> None:
    """A publication is one snapshot in a catalog that keeps history: an overwrite whose parent is the
    previous publication, so no time between two publications reads an empty table."""
    catalog = history_catalog(stack)
    identifier = f"persona.replace_{os.urandom(5).hex()}"
    contents = [[1, 2, 3], [4, 5], []]
    try:
        results = [
            replace_contents(
                catalog,
                identifier,
                pa.table({"n": pa.array(rows, pa.int64())}),
                snapshot_properties={"mark": str(i)},
            )
            for i, rows in enumerate(contents)
        ]
        ids = [r.snapshot_id for r in results]
        table = catalog.load_table(identifier)
        snapshots = table.metadata.snapshots
        assert [s.snapshot_id for s in snapshots] == ids
        assert [s.summary.operation.value if s.summary else None for s in snapshots] == [
            "append",
            "overwrite",
            "overwrite",
        ]
        assert [s.parent_snapshot_id for s in snapshots] == [None, ids[0], ids[1]]
        assert [s.summary["mark"] if s.summary else None for s in snapshots] == ["0", "1", "2"]
        assert [entry.snapshot_id for entry in table.metadata.snapshot_log] == ids
        for snapshot_id, rows in zip(ids, contents, strict=True):
            assert sorted(table.scan(snapshot_id=snapshot_id).to_arrow().column("n").to_pylist()) == rows
    finally:
        with contextlib.suppress(NoSuchTableError):
            history_catalog(stack).drop_table(identifier)
