"""``persona logic`` on the real stack (DESIGN §6): while the three flows stream on main, a branch is
created, retained history is replayed with v2 into it, the branches are diffed, and nothing on main
changes until the merge; after it, the running enrich flow decides with v2 (no restart)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pipeline_support import Scenario, load_stores, wait_for

from persona.contracts import Ok, parse_behavior_event, parse_decision_message
from persona.datagen import DataGenerator, GeneratorConfig
from persona.decisions import V2
from persona.kafka import make_producer, produce_all, read_topic
from persona.localstack.runner import FlowProcess
from persona.logic import LogicWorkspace, diff_segments
from persona.logic.sources import cassandra_stock, read_retained
from persona.paimon.branches import MAIN, on_branch
from persona.settings import PipelineSettings

pytestmark = pytest.mark.integration

START_MS = int(dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC).timestamp() * 1000)


def _rows(ws: LogicWorkspace, branch: str) -> list[dict[str, object]]:
    return ws.warehouse.read_arrow(on_branch(ws.segments_table, branch)).to_pylist()


def test_branch_replay_diff_then_merge_goes_live_without_restart(scenario: Scenario, tmp_path: Path) -> None:
    s = scenario
    gen = DataGenerator(
        GeneratorConfig(seed=5, customers=40, skus=30, order_fraction=0.1, malformed_fraction=0.0)
    )
    records = gen.records(600, START_MS, 60_000)
    events = [r for r in records if r.kind != "order"]
    first, later = events[:300], events[300:]
    assert len(later) >= 60, len(later)
    load_stores(gen, s, START_MS)
    env = {**s.env, "PERSONA_PROFILE_REFRESH": "0.5"}
    settings = PipelineSettings.from_env(env)
    ws = LogicWorkspace(settings)
    ws.ensure()

    flows = [FlowProcess(name, s.state_dir, env, snapshot_seconds=1) for name in ("cdc", "enrich", "sink")]
    for f in flows:
        f.start()
    try:
        producer = make_producer(s.stack.kafka_bootstrap)
        produce_all(producer, s.topics.behavior_events, ((r.key, r.value) for r in first))
        customers = wait_for(
            "main's rows of the first events",
            lambda: (
                rows
                if (rows := _rows(ws, MAIN))
                and flows[1].committed_offsets(s.topics.behavior_events) >= len(first)
                else None
            ),
            300,
            flows,
        )
        assert {r["logic_version"] for r in customers} == {"v1"}

        started = ws.create_branch("mkt-v2")
        assert set(started) == set(ws.tables)
        report = ws.replay("mkt-v2", V2, read_retained(settings, 60), cassandra_stock(settings))
        assert report.events == len(first) and report.decisions > 0

        # Main keeps streaming, untouched by the branch.
        produce_all(producer, s.topics.behavior_events, ((r.key, r.value) for r in later[:50]))
        wait_for(
            "enrich to decide the next events",
            lambda: True if flows[1].committed_offsets(s.topics.behavior_events) >= len(first) + 50 else None,
            300,
            flows,
        )
        branch_rows = _rows(ws, "mkt-v2")
        replayed = {r["customer_id"] for r in branch_rows if r["logic_version"] == "v2"}
        assert len(replayed) == report.customers
        branch_audit = ws.warehouse.read_arrow(on_branch(ws.decisions_table, "mkt-v2")).to_pylist()
        assert any(r["channel_preference"] for r in branch_audit if r["logic_version"] == "v2")
        assert ws.store.active("mkt-v2")[0] == V2
        # Nothing on main changed: its rows are v1's, its logic store has no release, and no main
        # snapshot was committed by the replay.
        assert {r["logic_version"] for r in _rows(ws, MAIN)} == {"v1"}
        assert ws.store.releases(MAIN) == [] and ws.store.active(MAIN)[1] is None
        for table in (ws.segments_table, ws.decisions_table):
            assert all(
                not snap["commit_user"].startswith("persona-logic") for snap in ws.warehouse.snapshots(table)
            )

        diff = diff_segments(ws.segments(MAIN), ws.segments("mkt-v2"))
        assert sum(diff.counts_b.values()) == len(branch_rows)
        samples = [c for c, _, _ in diff.samples]
        why = ws.explanations("mkt-v2", samples)
        assert all(why[c]["logic_version"] == "v2" for c in samples if c in replayed)

        # Merge: main's logic store releases v2 and tags; the running enrich flow re-decides with it.
        merged = ws.merge("mkt-v2", reason="win back lapsed VIPs", by="tester")
        assert merged.release.logic_version == "v2" and merged.release.released_by == "tester"
        assert ws.store.active(MAIN)[0] == V2
        assert merged.release.tag and merged.release.tag in ws.warehouse.list_tags(ws.segments_table)
        held = {r["customer_id"] for r in _rows(ws, MAIN)}
        wait_for(
            "main's rows to be v2's",
            lambda: (
                True
                if {r["customer_id"] for r in _rows(ws, MAIN) if r["logic_version"] == "v2"} >= held
                else None
            ),
            300,
            flows,
        )
        # A later event is decided with v2 by the flow that started under v1.
        produce_all(producer, s.topics.behavior_events, ((r.key, r.value) for r in later[50:60]))
        last = {}
        for r in later[50:60]:
            parsed = parse_behavior_event(r.value)
            assert isinstance(parsed, Ok)
            last[parsed.value.user_id] = max(last.get(parsed.value.user_id, 0), parsed.value.event_time_ms)

        def decided_later() -> bool | None:
            rows = {r["customer_id"]: r for r in _rows(ws, MAIN)}
            done = [
                rows[c]["logic_version"]
                for c, t in last.items()
                if c in rows and int(rows[c]["event_time"].replace(tzinfo=dt.UTC).timestamp() * 1000) >= t
            ]
            return True if len(done) == len(last) and set(done) == {"v2"} else None

        wait_for("later events decided with v2", decided_later, 300, flows)
        rt = [
            m.value.decision
            for r in read_topic(s.stack.kafka_bootstrap, s.topics.marketing_segments_rt, timeout=10)
            if isinstance(m := parse_decision_message(r.value or b""), Ok)
        ]
        assert {d.logic_version for d in rt} == {"v1", "v2"}
        assert any(d.channel_preference for d in rt if d.logic_version == "v2")
    finally:
        for f in flows:
            f.stop()
