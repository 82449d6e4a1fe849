"""Trino 476 (`stack up --with trino`) over the Iceberg publication in Nessie: the stack runs it, the
embedded DataFusion engine (over Paimon) and Trino (over the Iceberg copy of the same Paimon snapshot)
give the same rows and counts, `persona sql --engine trino` reads main, a Nessie branch and a Nessie
tag by name; that a column added to a Paimon table (`persona schema add-column`) reaches the Iceberg
table and Trino at the next publication; Nessie 0.99's catalog cannot time-travel to an older
publication, the history catalog (`--history`, Apache Iceberg's REST catalog server) can: by snapshot
id, by timestamp, by tag name."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pipeline_support import publication_env
from pyiceberg.exceptions import NoSuchTableError

from persona.cli.main import main as persona_main
from persona.iceberg import replace_contents
from persona.localstack import StackError, StackSettings, status
from persona.localstack.catalog import history_catalog, iceberg_catalog, nessie_client
from persona.localstack.sqlengine import run_sql
from persona.nessie import NessieError, ReferenceNotFound
from persona.paimon import PaimonWarehouse, TableWriter, ensure_tables, schema_id
from persona.paimon.overwrite import overwrite_table, set_tag
from persona.paimon.schema import MARKETING_SEGMENTS
from persona.publish import Publisher, PublishSettings

pytestmark = pytest.mark.integration

SEGMENTS = ("AT_RISK", "DORMANT", "LOYAL", "VIP")
CUSTOMERS = 240


def _persona(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "persona.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def _segment_rows(customers: int, segments: tuple[str, ...]) -> list[dict[str, Any]]:
    base = dt.datetime(2026, 11, 30, 12, 0, 0)
    return [
        {
            "customer_id": customer,
            "segment": segments[(customer * 7) % len(segments)],
            "recommendation": [f"sku-{customer % 13}", f"sku-{customer % 5}"] if customer % 3 else [],
            "score": round(customer * 0.37, 2),
            "updated_at": base + dt.timedelta(seconds=customer),
            "event_time": base + dt.timedelta(seconds=customer // 2),
            "logic_version": "v1" if customer % 4 else "v2",
            "version": customer % 9,
        }
        for customer in range(1, customers + 1)
    ]


def _profile_rows(customers: int) -> list[dict[str, Any]]:
    return [
        {
            "customer_id": customer,
            "segment": SEGMENTS[customer % len(SEGMENTS)],
            "recency": customer % 90,
            "frequency": customer % 11,
            "monetary": decimal.Decimal(f"{customer * 3}.{customer % 100:02d}"),
            "lifecycle_stage": "active" if customer % 2 else "lapsed",
            "rfm_as_of": dt.date(2026, 12, 1),
        }
        for customer in range(1, customers + 1)
    ]


@pytest.fixture(scope="module")
def paimon_and_iceberg(
    trino_stack: StackSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, str]]:
    """A private Paimon warehouse with marketing_segments and customer_profile, and the Iceberg
    publication of their current snapshot under the same table names in a namespace of its own on
    Nessie's main (as `persona publish` writes them)."""
    warehouse_dir = tmp_path_factory.mktemp("warehouse")
    ensure_tables(warehouse_dir)
    warehouse = PaimonWarehouse(warehouse_dir)
    for name, rows in (
        ("marketing_segments", _segment_rows(CUSTOMERS, SEGMENTS)),
        ("customer_profile", _profile_rows(CUSTOMERS)),
    ):
        writer = TableWriter(warehouse, name, commit_user="trino-test")
        writer.extend(rows)
        assert writer.commit() is not None
        writer.close()
    namespace = f"trino_{os.urandom(6).hex()}"
    catalog = iceberg_catalog(trino_stack)
    for name in ("marketing_segments", "customer_profile"):
        replace_contents(catalog, f"{namespace}.{name}", warehouse.read_arrow(name))
    yield warehouse_dir, namespace
    for name in ("marketing_segments", "customer_profile"):
        catalog.drop_table(f"{namespace}.{name}")
    catalog.drop_namespace(namespace)


def test_the_stack_runs_trino_healthy(trino_stack: StackSettings) -> None:
    trino = {s.name: s for s in status(trino_stack)}["trino"]
    assert trino.healthy, trino.detail
    assert trino.detail.startswith("Trino 476"), trino.detail
    assert trino.pid is not None


def test_trino_and_datafusion_give_the_same_rows_of_the_same_snapshot(
    trino_stack: StackSettings, paimon_and_iceberg: tuple[Path, str]
) -> None:
    warehouse_dir, namespace = paimon_and_iceberg
    warehouse = PaimonWarehouse(warehouse_dir)
    queries = (
        "SELECT customer_id, segment, recommendation, score, updated_at, event_time, logic_version, version "
        "FROM marketing_segments ORDER BY customer_id",
        "SELECT customer_id, segment, recency, frequency, monetary, lifecycle_stage, rfm_as_of "
        "FROM customer_profile ORDER BY customer_id",
        "SELECT m.segment, count(*) AS customers, sum(p.monetary) AS monetary FROM marketing_segments m "
        "JOIN customer_profile p ON m.customer_id = p.customer_id GROUP BY m.segment ORDER BY m.segment",
    )
    for sql in queries:
        datafusion_rows = warehouse.sql(sql).to_pylist()
        trino_rows = [dict(row) for row in run_sql(trino_stack, sql, schema=namespace).rows]
        assert len(datafusion_rows) > 0
        assert trino_rows == datafusion_rows, sql


def test_persona_sql_gives_equal_per_segment_counts_in_both_engines(
    trino_stack: StackSettings, paimon_and_iceberg: tuple[Path, str]
) -> None:
    warehouse_dir, namespace = paimon_and_iceberg
    env = {**os.environ, "PERSONA_WAREHOUSE": str(warehouse_dir)}
    counts = "SELECT segment, count(*) AS customers FROM marketing_segments GROUP BY segment ORDER BY segment"
    datafusion = _persona("sql", "--json", counts, env=env)
    trino = _persona("sql", "--engine", "trino", "--schema", namespace, "--json", counts, env=env)
    assert datafusion.returncode == 0, datafusion.stderr
    assert trino.returncode == 0, trino.stderr
    expected = {segment: 0 for segment in SEGMENTS}
    for row in _segment_rows(CUSTOMERS, SEGMENTS):
        expected[row["segment"]] += 1
    rows = [json.loads(line) for line in trino.stdout.splitlines()]
    assert {row["segment"]: row["customers"] for row in rows} == expected
    assert trino.stdout == datafusion.stdout
    # The note's query, as a table.
    table = _persona(
        "sql", "--engine", "trino", "--schema", namespace, "SELECT * FROM marketing_segments", env=env
    )
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split(" | ")[0].strip() == "customer_id"
    assert table.stdout.rstrip().endswith(f"({CUSTOMERS} rows)")


@pytest.fixture
def nessie_branch(trino_stack: StackSettings, unique_name: Callable[[str], str]) -> Iterator[str]:
    """A private Nessie branch from main, deleted (with the tags made from it) afterwards."""
    nessie = nessie_client(trino_stack)
    name = unique_name("trino").replace("_", "-")
    nessie.create_branch(name)
    yield name
    for reference in (f"{name}-rfm-1", name):
        with contextlib.suppress(ReferenceNotFound):
            nessie.delete_reference(reference)


def test_trino_reads_a_nessie_branch_and_a_nessie_tag_by_name(
    trino_stack: StackSettings, nessie_branch: str
) -> None:
    catalog = iceberg_catalog(trino_stack, nessie_branch)
    namespace = nessie_branch.replace("-", "_")
    table = f"{namespace}.marketing_segments"
    first = replace_contents(catalog, table, pa.Table.from_pylist(_segment_rows(30, ("VIP",))))
    release = nessie_client(trino_stack).create_tag(f"{nessie_branch}-rfm-1", from_ref=nessie_branch)
    second = replace_contents(catalog, table, pa.Table.from_pylist(_segment_rows(12, ("AT_RISK",))))
    counts = "SELECT segment, count(*) AS n FROM marketing_segments GROUP BY segment"

    def rows(sql: str, reference: str) -> list[dict[str, Any]]:
        return [dict(r) for r in run_sql(trino_stack, sql, reference=reference, schema=namespace).rows]

    assert rows(counts, nessie_branch) == [{"segment": "AT_RISK", "n": 12}]
    assert rows(counts, release.name) == [{"segment": "VIP", "n": 30}]
    # Through the CLI, by the tag's name.
    tagged = _persona(
        "sql",
        "--engine",
        "trino",
        "--ref",
        release.name,
        "--schema",
        namespace,
        "--json",
        counts,
        env=dict(os.environ),
    )
    assert tagged.returncode == 0, tagged.stderr
    assert [json.loads(line) for line in tagged.stdout.splitlines()] == [{"segment": "VIP", "n": 30}]
    # Main never saw the branch's namespace.
    with pytest.raises(StackError, match="does not exist"):
        rows(counts, "main")
    # Nessie 0.99's own limit (why the history catalog exists): its catalog serves a table with the
    # current snapshot only, so the previous publication's snapshot id does not resolve there (nor a
    # time before the current publication, nor an Iceberg tag). The history catalog reads them all:
    # test_trino_reads_older_publications_from_the_history_catalog.
    assert rows(
        f"SELECT count(*) AS n FROM marketing_segments FOR VERSION AS OF {second.snapshot_id}", nessie_branch
    ) == [{"n": 12}]
    with pytest.raises(StackError, match="does not exists"):
        rows(f"SELECT count(*) FROM marketing_segments FOR VERSION AS OF {first.snapshot_id}", nessie_branch)
    unknown = _persona(
        "sql", "--engine", "trino", "--ref", f"{nessie_branch}-nope", "SELECT 1", env=dict(os.environ)
    )
    assert unknown.returncode == 1
    assert "Nessie has no branch or tag" in unknown.stderr


SEGMENT_COLUMNS = (
    "customer_id, segment, recommendation, score, updated_at, event_time, logic_version, version"
)


@pytest.fixture
def history_publication(trino_stack: StackSettings, tmp_path: Path) -> Iterator[tuple[Publisher, str]]:
    """A Publisher of a private warehouse with a private table suffix and Nessie prefix (its main is
    ``<prefix>main``), writing main also into the stack's history catalog; its tables and references
    are dropped afterwards."""
    tag = os.urandom(5).hex()
    env = {
        **os.environ,
        "PERSONA_WAREHOUSE": str(tmp_path / "warehouse"),
        "PERSONA_TABLE_SUFFIX": f"_h{tag}",
        "PERSONA_NESSIE_REF_PREFIX": f"h{tag}-",
        **publication_env(trino_stack),
    }
    ensure_tables(env["PERSONA_WAREHOUSE"], name_suffix=env["PERSONA_TABLE_SUFFIX"])
    publisher = Publisher(PublishSettings.from_env(env))
    yield publisher, env["PERSONA_TABLE_SUFFIX"]
    for reference in publisher.nessie.references():
        if reference.name.startswith(env["PERSONA_NESSIE_REF_PREFIX"]):
            with contextlib.suppress(NessieError):
                publisher.nessie.delete_reference(reference.name)
    history = history_catalog(trino_stack)
    with contextlib.suppress(NoSuchTableError):
        history.drop_table(f"persona.marketing_segments{env['PERSONA_TABLE_SUFFIX']}")


def test_trino_reads_older_publications_from_the_history_catalog(
    trino_stack: StackSettings, history_publication: tuple[Publisher, str]
) -> None:
    publisher, suffix = history_publication
    warehouse = publisher.warehouse
    name = f"marketing_segments{suffix}"

    def replace(rows: list[dict[str, Any]]) -> int:
        table = pa.Table.from_pylist(rows, schema=MARKETING_SEGMENTS.schema)
        return overwrite_table(warehouse, name, table.to_batches(), "history-test")[1]

    # Two publications of different data; the first by the nightly tag's name.
    older = replace(_segment_rows(30, ("VIP",)))
    set_tag(warehouse, name, "rfm-20261201", older)
    first = publisher.publish(("marketing_segments",), tag="rfm-20261201")
    assert [(o.action, o.tag) for o in first.history] == [("appended", "rfm-20261201")]
    first_id = first.history[0].snapshot_id
    between = dt.datetime.now(dt.UTC)
    newer = replace(_segment_rows(12, ("AT_RISK", "LOYAL")))
    second = publisher.publish(("marketing_segments",))
    assert [o.action for o in second.history] == ["appended"]
    # Idempotent: the same Paimon snapshot is not appended again.
    again = publisher.publish(("marketing_segments",))
    assert [(o.action, o.snapshot_id) for o in again.history] == [
        ("unchanged", second.history[0].snapshot_id)
    ]
    assert publisher.history is not None
    # One Iceberg snapshot per publication (an overwrite, not a delete and an append).
    assert publisher.history.paimon_snapshots(name) == {
        first_id: older,
        second.history[0].snapshot_id: newer,
    }

    def trino(clause: str) -> list[dict[str, Any]]:
        sql = f"SELECT {SEGMENT_COLUMNS} FROM {name} {clause} ORDER BY customer_id"
        return [dict(row) for row in run_sql(trino_stack, sql, schema="persona", history=True).rows]

    def paimon(snapshot: int | None) -> list[dict[str, Any]]:
        at = "" if snapshot is None else f"VERSION AS OF {snapshot}"
        return warehouse.sql(f"SELECT {SEGMENT_COLUMNS} FROM {name} {at} ORDER BY customer_id").to_pylist()

    old_rows, new_rows = paimon(older), paimon(newer)
    assert len(old_rows) == 30 and len(new_rows) == 12
    assert trino("") == new_rows == paimon(None)
    assert trino(f"FOR VERSION AS OF {first_id}") == old_rows
    assert trino("FOR VERSION AS OF 'rfm-20261201'") == old_rows
    at = between.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    assert trino(f"FOR TIMESTAMP AS OF TIMESTAMP '{at} UTC'") == old_rows
    # Through the CLI, as a SQL user types it.
    counts = f"SELECT segment, count(*) AS n FROM {name} FOR VERSION AS OF 'rfm-20261201' GROUP BY segment"
    cli = _persona("sql", "--engine", "trino", "--history", "--json", counts, env=dict(os.environ))
    assert cli.returncode == 0, cli.stderr
    assert [json.loads(line) for line in cli.stdout.splitlines()] == [{"segment": "VIP", "n": 30}]
    # Without --history the same query goes to Nessie's catalog, which has no such table history.
    nessie = _persona("sql", "--engine", "trino", "--json", counts, env=dict(os.environ))
    assert nessie.returncode == 1
    assert "add --history" in nessie.stderr


def test_an_added_column_reaches_the_iceberg_publication_and_trino(
    trino_stack: StackSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`persona schema add-column marketing_segments channel_preference STRING`, new rows that fill it,
    then `persona publish`: the Iceberg table on Nessie gains the column, and Trino reads null for the
    rows written before the change and the value for the rows written after it."""
    tag = os.urandom(5).hex()
    env = {
        "PERSONA_WAREHOUSE": str(tmp_path / "warehouse"),
        "PERSONA_TABLE_SUFFIX": f"_s{tag}",
        "PERSONA_NESSIE_REF_PREFIX": f"s{tag}-",
        **publication_env(trino_stack),
        "PERSONA_PUBLICATION": "on",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    table = f"marketing_segments{env['PERSONA_TABLE_SUFFIX']}"
    ref = f"{env['PERSONA_NESSIE_REF_PREFIX']}main"
    ensure_tables(env["PERSONA_WAREHOUSE"], name_suffix=env["PERSONA_TABLE_SUFFIX"])
    warehouse = PaimonWarehouse(env["PERSONA_WAREHOUSE"])
    publisher = Publisher(PublishSettings.from_env(env))

    def write(rows: list[dict[str, Any]]) -> None:
        writer = TableWriter(warehouse, table, commit_user="schema-test")
        try:
            writer.extend(rows)
            assert writer.commit() is not None
        finally:
            writer.close()

    def trino(sql: str) -> list[dict[str, Any]]:
        return [dict(row) for row in run_sql(trino_stack, sql, reference=ref, schema="persona").rows]

    columns = (
        "SELECT column_name FROM information_schema.columns "
        f"WHERE table_schema = 'persona' AND table_name = '{table}' ORDER BY ordinal_position"
    )
    try:
        old = _segment_rows(30, SEGMENTS)
        write(old)
        assert persona_main(["publish", "--tables", "marketing_segments"]) == 0
        assert f"{table} snapshot 1: published 30 rows" in capsys.readouterr().out
        before = [r["column_name"] for r in trino(columns)]
        assert before[0] == "customer_id" and "channel_preference" not in before

        was = schema_id(warehouse, table)
        assert (
            persona_main(["schema", "add-column", "marketing_segments", "channel_preference", "STRING"]) == 0
        )
        assert "channel_preference STRING added" in capsys.readouterr().out
        assert schema_id(warehouse, table) == was + 1
        # After the change: customers 31..40 are new, 5 and 6 are decided again; all fill the column.
        channels = {c: ("app", "email", "web")[c % 3] for c in (5, 6, *range(31, 41))}
        new = [
            {**row, "version": row["version"] + 1, "channel_preference": channels[row["customer_id"]]}
            for row in _segment_rows(40, SEGMENTS)
            if row["customer_id"] in channels
        ]
        write(new)
        assert persona_main(["publish", "--tables", "marketing_segments"]) == 0
        assert f"{table} snapshot 2: published 40 rows" in capsys.readouterr().out

        # The Iceberg table gained the column, after the columns it had, and holds Paimon's rows.
        iceberg = publisher.read(ref, "marketing_segments")
        assert iceberg.schema.names == [*before, "channel_preference"]
        paimon = warehouse.read_arrow(table)
        assert iceberg.sort_by("customer_id").to_pylist() == paimon.sort_by("customer_id").to_pylist()
        # Trino reads it: null before the change, the value after it.
        assert [r["column_name"] for r in trino(columns)] == [*before, "channel_preference"]
        rows = trino(
            "SELECT customer_id, channel_preference, version FROM " + table + " ORDER BY customer_id"
        )
        expected_versions = {r["customer_id"]: r["version"] for r in old + new}
        assert rows == [
            {"customer_id": c, "channel_preference": channels.get(c), "version": expected_versions[c]}
            for c in range(1, 41)
        ]
        assert trino(f"SELECT count(*) AS n FROM {table} WHERE channel_preference IS NULL") == [{"n": 28}]
        # The history catalog's copy of main evolved alike: the new column, and the older snapshot.
        history = [r["column_name"] for r in run_sql(trino_stack, columns, history=True).rows]
        assert history == [*before, "channel_preference"]
    finally:
        for reference in publisher.nessie.references():
            if reference.name.startswith(env["PERSONA_NESSIE_REF_PREFIX"]):
                with contextlib.suppress(NessieError):
                    publisher.nessie.delete_reference(reference.name)
        with contextlib.suppress(NoSuchTableError):
            history_catalog(trino_stack).drop_table(f"persona.{table}")
