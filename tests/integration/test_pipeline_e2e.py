"""End to end on the real stack: events and orders in Kafka, inventory in Cassandra, profiles in
Paimon -> the three flows as separate processes -> ``marketing_segments`` and
``marketing_segments_rt`` equal to ``persona replay`` over the same input.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pytest
from pipeline_support import Scenario, load_stores, produce_in_time_order, wait_for, wait_for_audit

from persona.contracts import Ok, Topics, parse_decision_message, parse_dlq_record
from persona.datagen import DataGenerator, GeneratorConfig
from persona.datagen.loaders import write_files
from persona.kafka import make_producer, read_topic
from persona.localstack.runner import FlowProcess
from persona.paimon import PaimonWarehouse
from persona.replay import run_replay

pytestmark = pytest.mark.integration

START_MS = int(dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC).timestamp() * 1000)


def _replay(paths: dict[str, Path], out: Path) -> list[dict[str, Any]]:
    run_replay(
        paths["events"], paths["orders"], paths["profiles"], paths["inventory"], out, out.with_suffix(".dlq")
    )
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


def test_streaming_output_equals_replay(scenario: Scenario, tmp_path: Path) -> None:
    s = scenario
    gen = DataGenerator(
        GeneratorConfig(
            seed=11,
            customers=40,
            skus=30,
            order_fraction=0.2,
            malformed_fraction=0.03,
            duplicate_fraction=0.03,
        )
    )
    records = gen.records(500, START_MS, 60_000)
    paths = write_files(gen, tmp_path / "input", records, START_MS)
    expected = _replay(paths, tmp_path / "replay.jsonl")
    load_stores(gen, s, START_MS)

    flows = [FlowProcess(name, s.state_dir, s.env, snapshot_seconds=1) for name in ("cdc", "enrich", "sink")]
    for f in flows:
        f.start()
    try:
        producer = make_producer(s.stack.kafka_bootstrap)
        produce_in_time_order(producer, records, s.topics, flows[1], flows, 90)

        # Kafka marketing_segments_rt: the k-th decision of a customer carries version k.
        by_customer: dict[int, list[dict[str, Any]]] = {}
        for d in expected:
            by_customer.setdefault(d["customer_id"], []).append(d)
        rt = wait_for(
            f"{len(expected)} rt rows",
            lambda: (
                got
                if len(
                    got := read_topic(
                        s.stack.kafka_bootstrap,
                        s.topics.marketing_segments_rt,
                        min_count=len(expected),
                        timeout=2,
                    )
                )
                >= len(expected)
                else None
            ),
            120,
            flows,
        )
        messages = [parse_decision_message(r.value or b"") for r in rt]
        seen: dict[tuple[int, int], Any] = {}
        for m in messages:
            assert isinstance(m, Ok)
            seen[(m.value.decision.customer_id, m.value.version)] = m.value.decision
        assert len(seen) == len(expected), "every decision once per (customer, version)"
        for customer_id, decisions in by_customer.items():
            for version, want in enumerate(decisions, start=1):
                got = seen[(customer_id, version)]
                assert got.segment == want["segment"], (customer_id, version)
                assert list(got.recommendation) == want["recommendation"], (customer_id, version)
                assert (got.score is None) == (want["score"] is None)
                if want["score"] is not None:
                    assert got.score == pytest.approx(want["score"], abs=1e-6)

        # Paimon marketing_segments: the latest decision of every customer, committed.
        warehouse = PaimonWarehouse(s.warehouse)

        def paimon_rows() -> list[dict[str, Any]] | None:
            rows = warehouse.read_arrow("marketing_segments").to_pylist()
            done = {r["customer_id"]: r["version"] for r in rows} == {
                c: len(d) for c, d in by_customer.items()
            }
            return rows if done else None

        rows = wait_for("marketing_segments committed", paimon_rows, 60, flows)
        for row in rows:
            want = by_customer[row["customer_id"]][-1]
            assert row["segment"] == want["segment"]
            assert row["recommendation"] == want["recommendation"]

        audit = wait_for_audit(warehouse, len(expected), 60, flows)
        assert sorted(r["event_id"] for r in audit) == sorted(d["event_id"] for d in expected)

        # Bad events went to the DLQ with their reasons and original bytes, as many as replay rejected.
        replay_dlq = [orjson.loads(line) for line in (tmp_path / "replay.dlq").read_bytes().splitlines()]
        want_bad = sorted(d["raw"] for d in replay_dlq if d["topic"] == "behavior_events")
        dlq = wait_for(
            f"{len(want_bad)} dead letters",
            lambda: (
                got
                if len(
                    got := read_topic(
                        s.stack.kafka_bootstrap, Topics.dlq(s.topics.behavior_events), timeout=5
                    )
                )
                >= len(want_bad)
                else None
            ),
            30,
            flows,
        )
        parsed = [parse_dlq_record(r.value or b"") for r in dlq]
        assert all(isinstance(p, Ok) and p.value.reason for p in parsed)
        assert sorted(p.value.raw.decode() for p in parsed if isinstance(p, Ok)) == want_bad
    finally:
        for f in flows:
            f.stop()
