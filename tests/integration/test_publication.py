"""The Iceberg publication of the Paimon tables into the real Nessie + s3proxy (DESIGN §6): content equal
to the Paimon snapshot, idempotent, on the matching Nessie branch only, merged by `persona logic merge`
(main's tables become the branch's), published by `persona logic replay` onto the replayed branch, erased
customers left out, nightly rfm tags followed as Nessie tags; main also appended into the history
catalog, each rfm or release tag an Iceberg tag there.

Each test has its own warehouse, table suffix and Nessie reference prefix (PERSONA_NESSIE_REF_PREFIX):
its "main" is ``<prefix>main``, so the shared Nessie main never changes."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pipeline_support import Scenario, load_stores, publication_env
from pyiceberg.exceptions import NoSuchTableError

from persona.cli.main import main as persona_main
from persona.cli.rfm_cmd import publish_rfm_tags
from persona.datagen import DataGenerator, GeneratorConfig
from persona.decisions import V2
from persona.kafka import make_producer, produce_all
from persona.localstack import StackSettings
from persona.nessie import NessieError
from persona.paimon import PaimonWarehouse, TableWriter
from persona.paimon.branches import on_branch
from persona.paimon.logic_store import LogicStore
from persona.paimon.overwrite import overwrite_table, set_tag
from persona.paimon.schema import CUSTOMER_PROFILE, TABLES, ensure_tables
from persona.publish import Publisher, PublishError, PublishSettings
from persona.publish.plan import MARK_SNAPSHOT, PUBLISHED_TABLES

pytestmark = pytest.mark.integration

T0 = dt.datetime(2026, 12, 1, 10, 0)
KEYS = {
    "marketing_segments": ["customer_id"],
    "customer_profile": ["customer_id"],
    "segment_decisions": ["customer_id", "event_id"],
}


@dataclass
class Publication:
    env: dict[str, str]
    suffix: str
    prefix: str
    warehouse: PaimonWarehouse
    publisher: Publisher

    def table(self, name: str) -> str:
        return name + self.suffix

    def write(self, name: str, rows: list[dict[str, Any]], branch: str = "main") -> int:
        spec = {s.name: s for s in TABLES}[name]
        writer = TableWriter(self.warehouse, on_branch(self.table(name), branch), "publication-test")
        try:
            writer.add_arrow(pa.Table.from_pylist(rows, schema=spec.schema))
            writer.commit()
        finally:
            writer.close()
        snapshot = self.warehouse.latest_snapshot_id(on_branch(self.table(name), branch))
        assert snapshot is not None
        return snapshot

    def replace_profiles(self, rows: list[dict[str, Any]]) -> int:
        """The nightly job's way: the rows replace customer_profile in one commit."""
        table = pa.Table.from_pylist(rows, schema=CUSTOMER_PROFILE.schema)
        _, snapshot = overwrite_table(
            self.warehouse, self.table("customer_profile"), table.to_batches(), "rfm"
        )
        return snapshot

    def paimon(self, name: str, branch: str = "main", **at: Any) -> list[dict[str, Any]]:
        rows = self.warehouse.read_arrow(on_branch(self.table(name), branch), **at)
        return _sorted(name, rows)

    def iceberg(self, name: str, ref: str = "main") -> list[dict[str, Any]]:
        return _sorted(name, self.publisher.read(self.publisher.ref(ref), name))


def _history_tag(p: Publication, name: str, tag: str) -> int:
    """The Paimon snapshot that the history catalog's Iceberg tag ``tag`` of ``name`` holds."""
    history = p.publisher.history
    assert history is not None
    table = history.catalog.load_table(f"persona.{p.table(name)}")
    return history.paimon_snapshots(p.table(name))[table.metadata.refs[tag].snapshot_id]


def _sorted(name: str, rows: pa.Table) -> list[dict[str, Any]]:
    return rows.sort_by([(k, "ascending") for k in KEYS[name]]).to_pylist()


@pytest.fixture
def publication(stack: StackSettings, tmp_path: Path) -> Iterator[Publication]:
    tag = uuid.uuid4().hex[:10]
    env = {
        **os.environ,
        "PERSONA_WAREHOUSE": str(tmp_path / "warehouse"),
        "PERSONA_TABLE_SUFFIX": f"_p{tag}",
        "PERSONA_NESSIE_REF_PREFIX": f"t{tag}-",
        **publication_env(stack),
    }
    ensure_tables(env["PERSONA_WAREHOUSE"], name_suffix=env["PERSONA_TABLE_SUFFIX"])
    publisher = Publisher(PublishSettings.from_env(env))
    yield Publication(
        env, env["PERSONA_TABLE_SUFFIX"], env["PERSONA_NESSIE_REF_PREFIX"], publisher.warehouse, publisher
    )
    for reference in publisher.nessie.references():
        if reference.name.startswith(env["PERSONA_NESSIE_REF_PREFIX"]):
            with contextlib.suppress(NessieError):
                publisher.nessie.delete_reference(reference.name)
    assert publisher.history is not None
    for table in PUBLISHED_TABLES:
        with contextlib.suppress(NoSuchTableError):
            publisher.history.catalog.drop_table(f"persona.{table}{env['PERSONA_TABLE_SUFFIX']}")


def _segments(
    customers: range, segment: str, at: dt.datetime = T0, logic: str = "v1"
) -> list[dict[str, Any]]:
    return [
        {
            "customer_id": c,
            "segment": segment,
            "recommendation": [f"sku:{c % 7}"],
            "score": c / 10,
            "updated_at": at,
            "event_time": at,
            "logic_version": logic,
            "version": 1,
        }
        for c in customers
    ]


def _profiles(customers: range, segment: str, as_of: dt.date = dt.date(2026, 11, 30)) -> list[dict[str, Any]]:
    return [
        {
            "customer_id": c,
            "segment": segment,
            "recency": c % 90,
            "frequency": c % 13,
            "monetary": Decimal(f"{c}.25"),
            "lifecycle_stage": "active",
            "rfm_as_of": as_of,
        }
        for c in customers
    ]


def _decisions(customers: range, at: dt.datetime = T0) -> list[dict[str, Any]]:
    return [
        {
            "event_date": at.date().isoformat(),
            "event_id": f"e{c}-{n}",
            "customer_id": c,
            "event_time": at + dt.timedelta(seconds=n),
            "event_type": "view",
            "segment": "ACTIVE",
            "rule": "active",
            "score": 1.0,
            "recommendation": [],
            "logic_version": "v1",
            "decided_at": at + dt.timedelta(seconds=n),
            "version": n + 1,
        }
        for c in customers
        for n in range(2)
    ]


def _fill(p: Publication, customers: range = range(1, 201)) -> dict[str, int]:
    return {
        "marketing_segments": p.write("marketing_segments", _segments(customers, "ACTIVE")),
        "customer_profile": p.write("customer_profile", _profiles(customers, "REGULAR")),
        "segment_decisions": p.write("segment_decisions", _decisions(customers)),
    }


def test_published_tables_equal_the_paimon_snapshot_and_republishing_is_a_no_op(
    publication: Publication,
) -> None:
    p = publication
    snapshots = _fill(p)
    first = p.publisher.publish()
    assert [o.action for o in first.outcomes] == ["published"] * 3
    assert first.commit is not None and first.message is not None
    for name, snapshot in snapshots.items():
        assert f"{p.table(name)} snapshot {snapshot}" in first.message
        assert p.iceberg(name) == p.paimon(name)
    main = p.publisher.ref("main")
    head = p.publisher.nessie.reference(main).hash
    assert p.publisher.nessie.log(main, 1)[0].message == first.message

    again = p.publisher.publish()
    assert [o.action for o in again.outcomes] == ["unchanged"] * 3
    assert again.commit is None
    assert p.publisher.nessie.reference(main).hash == head

    # One table moves on: only it is published, in one new commit naming its snapshot.
    later = p.write("marketing_segments", _segments(range(150, 260), "AT_RISK"))
    third = p.publisher.publish()
    assert [(o.table, o.action) for o in third.outcomes] == [
        (p.table("marketing_segments"), "published"),
        (p.table("customer_profile"), "unchanged"),
        (p.table("segment_decisions"), "unchanged"),
    ]
    assert third.message == f"persona publish to {main}: {p.table('marketing_segments')} snapshot {later}"
    assert p.iceberg("marketing_segments") == p.paimon("marketing_segments")
    assert len(p.iceberg("marketing_segments")) == 259

    # An older snapshot, by hand: the publication holds exactly it.
    p.publisher.publish(["marketing_segments"], snapshot=snapshots["marketing_segments"])
    assert p.iceberg("marketing_segments") == p.paimon(
        "marketing_segments", snapshot_id=snapshots["marketing_segments"]
    )


def test_a_branch_publishes_beside_main_and_logic_merge_makes_main_the_branchs(
    publication: Publication, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    p = publication
    for key, value in p.env.items():
        monkeypatch.setenv(key, value)
    _fill(p)
    p.publisher.publish()
    main = p.publisher.ref("main")
    main_head = p.publisher.nessie.reference(main).hash
    main_segments = p.iceberg("marketing_segments")

    assert persona_main(["logic", "branch", "mkt-v2"]) == 0
    out = capsys.readouterr().out
    assert f"nessie: branch {p.prefix}mkt-v2 from {main}" in out
    branch = p.publisher.ref("mkt-v2")
    assert p.publisher.nessie.reference(branch).hash == main_head

    # The dry run on the branch: other rows (v2's), published onto the Nessie branch only.
    p.write("marketing_segments", _segments(range(1, 120), "VIP_WINBACK", logic="v2"), branch="mkt-v2")
    report = p.publisher.publish(branch="mkt-v2")
    assert report.ref == branch
    by_table = {o.table: o.action for o in report.outcomes}
    assert by_table[p.table("marketing_segments")] == "published"
    assert by_table[p.table("customer_profile")] == "skipped"  # no Paimon branch: main's, as branched
    assert p.iceberg("marketing_segments", "mkt-v2") == p.paimon("marketing_segments", "mkt-v2")
    assert p.publisher.nessie.reference(main).hash == main_head
    assert p.iceberg("marketing_segments") == main_segments

    # Main moves on meanwhile (the live pipeline's next publication): the merge must still win.
    p.write("marketing_segments", _segments(range(300, 310), "NEW"))
    p.write("customer_profile", _profiles(range(1, 50), "LOYAL"))
    p.publisher.publish()
    assert p.publisher.nessie.reference(main).hash != main_head
    assert p.publisher.nessie.reference(branch).hash != main_head

    store = LogicStore(p.warehouse, p.suffix)
    store.register(V2, "mkt-v2", by="tester", description="replayed on this branch")
    store.release(V2.logic_version, "mkt-v2", reason="persona logic replay", by="tester")
    assert persona_main(["logic", "merge", "mkt-v2", "--reason", "win back lapsed VIPs", "--by", "ana"]) == 0
    out = capsys.readouterr().out
    release = store.releases("main")[-1]
    assert release.tag is not None
    assert f"nessie: tag {p.prefix}{release.tag}" in out
    # Main moved on since the fork: a real merge commit, each line said once.
    assert f"nessie: merged {branch} into {main}: commit " in out and "nessie: nessie" not in out
    assert p.iceberg("marketing_segments") == p.paimon("marketing_segments", "mkt-v2")
    assert p.iceberg("segment_decisions") == p.paimon("segment_decisions", "mkt-v2")
    # What the branch did not publish stays main's.
    assert p.iceberg("customer_profile") == p.paimon("customer_profile")
    tag = p.publisher.nessie.reference(p.publisher.ref(release.tag))
    assert (tag.kind, tag.hash) == ("TAG", p.publisher.nessie.reference(main).hash)
    # The history catalog's main follows: the branch's tables appended, tagged with the release.
    assert f"history main: {p.table('marketing_segments')}: appended snapshot" in out
    branch_snapshot = p.warehouse.latest_snapshot_id(on_branch(p.table("marketing_segments"), "mkt-v2"))
    assert _history_tag(p, "marketing_segments", release.tag) == branch_snapshot
    assert _history_tag(p, "customer_profile", release.tag) == p.warehouse.latest_snapshot_id(
        p.table("customer_profile")
    )
    merge_commit = p.publisher.nessie.log(main, 1)[0]
    assert (
        "persona logic merge mkt-v2" in merge_commit.message
        and "win back lapsed VIPs" in merge_commit.message
    )

    assert persona_main(["logic", "log"]) == 0
    out = capsys.readouterr().out
    assert "nessie main:" in out and "persona logic merge mkt-v2" in out and release.tag in out


def test_logic_replay_publishes_the_replayed_branch_onto_its_nessie_branch(
    scenario: Scenario,
    stack: StackSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`persona logic replay` publishes the branch it replayed (no `persona publish --branch` by hand), so
    Trino `--ref BRANCH` reads the dry run; a publication that fails says the replay itself succeeded;
    PERSONA_PUBLICATION=off says the branch was not published. Nessie's main stays as it was."""
    s = scenario
    tag = uuid.uuid4().hex[:10]
    env = {
        **s.env,
        "PERSONA_NESSIE_REF_PREFIX": f"r{tag}-",
        **publication_env(stack),
        "PERSONA_PUBLICATION": "on",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    start_ms = int(dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC).timestamp() * 1000)
    gen = DataGenerator(
        GeneratorConfig(seed=11, customers=30, skus=20, order_fraction=0.0, malformed_fraction=0.0)
    )
    load_stores(gen, s, start_ms)
    produce_all(
        make_producer(s.stack.kafka_bootstrap),
        s.topics.behavior_events,
        ((r.key, r.value) for r in gen.records(150, start_ms, 60_000)),
    )
    publisher = Publisher(PublishSettings.from_env(env))
    branch, main = publisher.ref("mkt-v2"), publisher.ref("main")
    replay = ["logic", "replay", "mkt-v2", "--logic", "v2", "--timeout", "60"]
    try:
        assert persona_main(["logic", "branch", "mkt-v2"]) == 0
        assert f"nessie: branch {branch} from {main}" in capsys.readouterr().out
        main_head = publisher.nessie.reference(main).hash
        # What the new branch holds from main (a developer's stack may have published there): unchanged
        # until a replay publishes.
        before = publisher.published(branch, "marketing_segments")
        before_main = publisher.published(main, "marketing_segments")

        # Nessie unreachable: the replay is done, the command says so and what to run later.
        monkeypatch.setenv("PERSONA_NESSIE_URL", "http://127.0.0.1:9")  # the discard port
        assert persona_main(replay) == 1
        out, err = capsys.readouterr()
        assert "with logic v2 into branch mkt-v2: " in out and "main is untouched" in out
        assert "the replay into branch mkt-v2 succeeded" in err
        assert "Nessie at http://127.0.0.1:9/api/v2 is unreachable" in err
        assert "`persona publish --branch mkt-v2`" in err
        replayed = publisher.warehouse.read_arrow(on_branch("marketing_segments", "mkt-v2")).to_pylist()
        assert replayed and {r["logic_version"] for r in replayed} == {"v2"}
        assert publisher.published(branch, "marketing_segments") == before

        # The publication off: the Paimon part only, said plainly.
        monkeypatch.setenv("PERSONA_NESSIE_URL", env["PERSONA_NESSIE_URL"])
        monkeypatch.setenv("PERSONA_PUBLICATION", "off")
        assert persona_main(replay) == 0
        out = capsys.readouterr().out
        assert (
            "nessie: not configured (PERSONA_PUBLICATION=off); Paimon only: branch mkt-v2 was not published"
            in out
        )
        assert publisher.published(branch, "marketing_segments") == before

        # On: the replayed tables are published onto the Nessie branch in one commit.
        monkeypatch.setenv("PERSONA_PUBLICATION", "on")
        assert persona_main(replay) == 0
        out = capsys.readouterr().out
        segments = publisher.warehouse.latest_snapshot_id(on_branch("marketing_segments", "mkt-v2"))
        decisions = publisher.warehouse.latest_snapshot_id(on_branch("segment_decisions", "mkt-v2"))
        rows = publisher.warehouse.read_arrow(on_branch("marketing_segments", "mkt-v2")).num_rows
        assert f"nessie {branch}: marketing_segments@mkt-v2 snapshot {segments}: published {rows} rows" in out
        assert f"nessie {branch}: segment_decisions@mkt-v2 snapshot {decisions}: published" in out
        assert f"nessie {branch}: customer_profile: skipped (no Paimon branch mkt-v2)" in out
        assert f"nessie {branch}: commit " in out
        for name, keys in (
            ("marketing_segments", ["customer_id"]),
            ("segment_decisions", KEYS["segment_decisions"]),
        ):
            paimon = publisher.warehouse.read_arrow(on_branch(name, "mkt-v2"))
            iceberg = publisher.read(branch, name)
            order = [(k, "ascending") for k in keys]
            assert iceberg.sort_by(order).to_pylist() == paimon.sort_by(order).to_pylist(), name
        assert publisher.nessie.log(branch, 1)[0].message.startswith(f"persona publish to {branch}: ")
        # Nothing on Nessie's main changed.
        assert publisher.nessie.reference(main).hash == main_head
        assert publisher.published(main, "marketing_segments") == before_main
    finally:
        for reference in publisher.nessie.references():
            if reference.name.startswith(env["PERSONA_NESSIE_REF_PREFIX"]):
                with contextlib.suppress(NessieError):
                    publisher.nessie.delete_reference(reference.name)


def test_an_erased_customer_is_left_out_of_the_publication(publication: Publication) -> None:
    p = publication
    _fill(p, range(1, 21))
    # Customer 5 comes back after their erasure: the comeback's row is published, the past is not.
    p.write("marketing_segments", _segments(range(5, 6), "NEW", at=T0 + dt.timedelta(days=3)))
    erasure = {
        "erasure_id": "e-3",
        "customer_id": 3,
        "reason": "ticket 1",
        "requested_by": "ops",
        "requested_at": T0 + dt.timedelta(days=1),
        "applied_at": T0 + dt.timedelta(days=1),
        "rows_deleted_json": "{}",
    }
    p.write("erasures", [erasure, {**erasure, "erasure_id": "e-5", "customer_id": 5}])
    report = p.publisher.publish()
    assert all(o.action == "published" for o in report.outcomes)
    assert {o.table: o.erased_rows for o in report.outcomes} == {
        p.table("marketing_segments"): 1,
        p.table("customer_profile"): 2,
        p.table("segment_decisions"): 4,
    }
    for name in ("marketing_segments", "customer_profile", "segment_decisions"):
        ids = {row["customer_id"] for row in p.iceberg(name)}
        assert 3 not in ids, name
    assert [r["segment"] for r in p.iceberg("marketing_segments") if r["customer_id"] == 5] == ["NEW"]
    assert 5 not in {r["customer_id"] for r in p.iceberg("customer_profile")}

    assert all(o.action == "unchanged" for o in p.publisher.publish().outcomes)
    # A later erasure of a published customer publishes again, though no Paimon snapshot moved.
    p.write("erasures", [{**erasure, "erasure_id": "e-7", "customer_id": 7}])
    again = p.publisher.publish()
    assert all(o.action == "published" for o in again.outcomes)
    assert "erased customers excluded" in (again.message or "")
    for name in ("marketing_segments", "customer_profile", "segment_decisions"):
        assert {3, 7}.isdisjoint({row["customer_id"] for row in p.iceberg(name)}), name


def test_a_nightly_rfm_tag_becomes_a_nessie_tag(
    publication: Publication, capsys: pytest.CaptureFixture[str]
) -> None:
    p = publication
    _fill(p)
    profile = p.table("customer_profile")
    day1 = p.replace_profiles(_profiles(range(1, 101), "LOYAL", dt.date(2026, 12, 5)))
    set_tag(p.warehouse, profile, "rfm-20261205", day1)
    day2 = p.replace_profiles(_profiles(range(1, 81), "VIP", dt.date(2026, 12, 6)))
    set_tag(p.warehouse, profile, "rfm-20261206", day2)

    # What `persona rfm run` does once the job has written and tagged the day.
    assert publish_rfm_tags(p.env) == 0
    out = capsys.readouterr().out
    assert f"rfm: nessie: tag {p.publisher.ref('rfm-20261205')}" in out
    assert f"rfm: nessie: tag {p.publisher.ref('rfm-20261206')}" in out
    for name, snapshot in (("rfm-20261205", day1), ("rfm-20261206", day2)):
        assert p.iceberg("customer_profile", name) == p.paimon("customer_profile", tag=name)
        assert p.publisher.published(p.publisher.ref(name), "customer_profile")[MARK_SNAPSHOT] == str(
            snapshot
        )
    assert p.iceberg("customer_profile") == p.paimon("customer_profile", tag="rfm-20261206")
    assert p.iceberg("marketing_segments", "rfm-20261206") == p.paimon("marketing_segments")
    assert p.publisher.follow_rfm_tags() == []
    # The history catalog has both days as snapshots of main, each tagged with the day's name.
    assert _history_tag(p, "customer_profile", "rfm-20261205") == day1
    assert _history_tag(p, "customer_profile", "rfm-20261206") == day2

    # The day re-run: its Paimon tag moves, and so does the Nessie tag.
    rerun = p.replace_profiles(_profiles(range(1, 71), "VIP", dt.date(2026, 12, 6)))
    set_tag(p.warehouse, profile, "rfm-20261206", rerun)
    (moved,) = p.publisher.follow_rfm_tags()
    assert moved.tag == p.publisher.ref("rfm-20261206")
    assert len(p.iceberg("customer_profile", "rfm-20261206")) == 70
    assert _history_tag(p, "customer_profile", "rfm-20261206") == rerun

    # An older day published late tags its own publication and leaves the branch as it is.
    head = p.publisher.nessie.reference(p.publisher.ref("main")).hash
    late = p.publisher.publish(["customer_profile"], tag="rfm-20261205")
    assert late.commit is None
    assert p.publisher.nessie.reference(p.publisher.ref("main")).hash == head
    # In the history too: the tag stays on that day's snapshot, nothing is appended.
    assert [o.action for o in late.history] == ["unchanged"]
    assert _history_tag(p, "customer_profile", "rfm-20261205") == day1


def test_clear_errors_when_nessie_or_the_object_store_is_down(publication: Publication) -> None:
    p = publication
    _fill(p, range(1, 5))
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens there
    no_nessie = Publisher(PublishSettings.from_env({**p.env, "PERSONA_NESSIE_URL": closed}))
    with pytest.raises(
        PublishError, match=r"Nessie at http://127.0.0.1:9/api/v2 is unreachable.*stack status"
    ):
        no_nessie.publish()
    no_s3 = Publisher(PublishSettings.from_env({**p.env, "PERSONA_S3_ENDPOINT": closed}))
    with pytest.raises(PublishError, match=r"S3 endpoint .* http://127.0.0.1:9 is unreachable.*s3proxy"):
        no_s3.publish()
    no_history = Publisher(PublishSettings.from_env({**p.env, "PERSONA_ICEBERG_REST_URL": closed}))
    with pytest.raises(PublishError, match=r"history catalog http://127.0.0.1:9 is unreachable"):
        no_history.publish()
    # Switched off, the publication writes Nessie only.
    off = Publisher(PublishSettings.from_env({**p.env, "PERSONA_HISTORY_CATALOG": "off"}))
    assert off.history is None
    assert off.publish().history == []


def test_a_logic_branch_publishes_while_the_history_catalog_is_down(
    publication: Publication, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The history catalog holds main only: a logic branch's creation and publication go on without it;
    main's publication still stops with the clear error."""
    p = publication
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens there
    env = {**p.env, "PERSONA_ICEBERG_REST_URL": closed}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    _fill(p, range(1, 20))
    assert persona_main(["logic", "branch", "mkt-h"]) == 0
    assert f"nessie: branch {p.prefix}mkt-h from " in capsys.readouterr().out
    p.write("marketing_segments", _segments(range(1, 10), "VIP_WINBACK", logic="v2"), branch="mkt-h")
    no_history = Publisher(PublishSettings.from_env(env))
    report = no_history.publish(branch="mkt-h")
    assert report.ref == p.publisher.ref("mkt-h") and report.history == []
    assert p.iceberg("marketing_segments", "mkt-h") == p.paimon("marketing_segments", "mkt-h")
    with pytest.raises(PublishError, match=r"history catalog http://127.0.0.1:9 is unreachable"):
        no_history.publish()


def test_the_publish_command(
    publication: Publication, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    p = publication
    for key, value in p.env.items():
        monkeypatch.setenv(key, value)
    snapshot = p.write("marketing_segments", _segments(range(1, 11), "ACTIVE"))
    assert persona_main(["publish", "--tables", "marketing_segments"]) == 0
    out = capsys.readouterr().out
    assert f"{p.table('marketing_segments')} snapshot {snapshot}: published 10 rows" in out
    assert persona_main(["publish", "--tables", "marketing_segments"]) == 0
    assert "unchanged" in capsys.readouterr().out
    assert persona_main(["publish", "--tables", "nonsense"]) == 1
    assert "cannot publish nonsense" in capsys.readouterr().err
