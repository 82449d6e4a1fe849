"""Faults on the real stack: a flow killed with SIGKILL mid-run resumes from its last snapshot and
nothing is lost; with Cassandra stopped, the flows keep deciding and recommend no unknown stock."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import orjson
import pytest
from pipeline_support import Scenario, load_stores, wait_for

from persona.contracts import Ok, parse_behavior_event, parse_decision_message
from persona.datagen import DataGenerator, GeneratorConfig, WireRecord
from persona.kafka import make_producer, produce_all, read_topic
from persona.localstack import down, up
from persona.localstack.runner import FlowProcess
from persona.paimon import PaimonWarehouse

pytestmark = pytest.mark.integration

START_MS = int(dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC).timestamp() * 1000)


def _events(records: list[WireRecord]) -> list[WireRecord]:
    return [r for r in records if r.kind == "event"]


def _valid_event_ids(records: list[WireRecord]) -> set[str]:
    ids = set()
    for r in _events(records):
        parsed = parse_behavior_event(r.value)
        if isinstance(parsed, Ok):
            ids.add(parsed.value.event_id)
    return ids


def _audit_ids(s: Scenario) -> set[str]:
    return {r["event_id"] for r in PaimonWarehouse(s.warehouse).read_arrow("segment_decisions").to_pylist()}


def _rt_count(s: Scenario) -> int:
    return len(read_topic(s.stack.kafka_bootstrap, s.topics.marketing_segments_rt, timeout=3))


def _produce(s: Scenario, records: list[WireRecord]) -> None:
    producer = make_producer(s.stack.kafka_bootstrap)
    produce_all(producer, s.topics.behavior_events, ((r.key, r.value) for r in _events(records)))


def test_sigkill_of_enrich_and_sink_loses_nothing(scenario: Scenario) -> None:
    s = scenario
    gen = DataGenerator(
        GeneratorConfig(
            seed=21,
            customers=50,
            skus=30,
            order_fraction=0.0,
            malformed_fraction=0.02,
            duplicate_fraction=0.02,
        )
    )
    records = gen.records(900, START_MS, 1_000)
    load_stores(gen, s, START_MS)
    flows = {n: FlowProcess(n, s.state_dir, s.env, snapshot_seconds=1) for n in ("cdc", "enrich", "sink")}
    for f in flows.values():
        f.start()
    everything = list(flows.values())
    try:
        thirds = [records[:300], records[300:600], records[600:]]
        _produce(s, thirds[0])
        wait_for("first decisions", lambda: True if _rt_count(s) > 50 else None, 90, everything)
        # Killed after a snapshot, so the restart restores customers from their log (their versions
        # go on; "no version lost" below fails if they restart at 1).
        wait_for(
            "an enrich snapshot",
            lambda: flows["enrich"].committed_offsets(s.topics.behavior_events) or None,
            60,
            everything,
        )
        assert any(flows["enrich"].customer_log_dir.glob("shard-*/*.seg")), "the customers are in their log"
        flows["enrich"].kill()
        _produce(s, thirds[1])
        flows["enrich"].start()
        wait_for(
            "decisions after the enrich restart", lambda: True if _rt_count(s) > 350 else None, 90, everything
        )
        flows["sink"].kill()
        _produce(s, thirds[2])
        flows["sink"].start()

        want = _valid_event_ids(records)
        audit = wait_for(
            f"{len(want)} audit rows",
            lambda: ids if (ids := _audit_ids(s)) >= want else None,
            120,
            everything,
        )
        assert audit == want, "every valid event decided once in the audit, nothing extra"

        # marketing_segments holds, per customer, its newest version; the rt topic has every version
        # 1..n of each customer at least once (a replay after a kill may repeat some: same version).
        rt = [
            parse_decision_message(r.value or b"")
            for r in read_topic(s.stack.kafka_bootstrap, s.topics.marketing_segments_rt, timeout=10)
        ]
        versions: dict[int, set[int]] = {}
        for m in rt:
            assert isinstance(m, Ok)
            versions.setdefault(m.value.decision.customer_id, set()).add(m.value.version)
        assert all(v == set(range(1, max(v) + 1)) for v in versions.values()), "no version lost"
        assert sum(len(v) for v in versions.values()) == len(want)

        def segments_complete() -> list[dict[str, Any]] | None:
            rows = PaimonWarehouse(s.warehouse).read_arrow("marketing_segments").to_pylist()
            return (
                rows
                if {r["customer_id"]: r["version"] for r in rows} == {c: max(v) for c, v in versions.items()}
                else None
            )

        wait_for("marketing_segments at the newest versions", segments_complete, 60, everything)
    finally:
        for f in everything:
            f.stop()


def test_cassandra_down_never_promotes_unknown_stock(scenario: Scenario) -> None:
    s = scenario
    gen = DataGenerator(GeneratorConfig(seed=31, customers=30, skus=20, order_fraction=0.0))
    load_stores(gen, s, START_MS)
    env = {**s.env, "PERSONA_INVENTORY_TTL": "0.2"}
    flows = [FlowProcess(n, s.state_dir, env, snapshot_seconds=1) for n in ("enrich", "sink")]
    for f in flows:
        f.start()
    stopped_at = 0.0
    try:
        first = gen.records(100, START_MS, 1_000)
        _produce(s, first)
        wait_for(
            "decisions with Cassandra up",
            lambda: True if _rt_count(s) >= len(_valid_event_ids(first)) else None,
            90,
            flows,
        )
        down(s.stack, only=["cassandra"])
        stopped_at = time.time()
        second = gen.records(100, START_MS + 200_000, 1_000)
        _produce(s, second)
        want = _valid_event_ids(first) | _valid_event_ids(second)

        def all_decided() -> list[dict[str, Any]] | None:
            got = PaimonWarehouse(s.warehouse).read_arrow("segment_decisions").to_pylist()
            return got if {r["event_id"] for r in got} >= want else None

        rows = wait_for("decisions made while Cassandra is down", all_decided, 180, flows)
        assert all(f.alive() for f in flows), "the flows keep running without Cassandra"
        # Produced after Cassandra was down, and well past the 0.2 s cache TTL (stopping takes seconds).
        second_ids = _valid_event_ids(second)
        during = [r for r in rows if r["event_id"] in second_ids]
        assert len(during) == len(second_ids)
        assert all(r["decided_at"].replace(tzinfo=dt.UTC).timestamp() >= stopped_at - 1 for r in during)
        for r in rows:
            seen = orjson.loads(r["candidates_json"])
            sellable = {c["sku_id"]: c["sellable"] for c in seen["candidates"]}
            for rec in r["recommendation"]:
                assert (sellable.get(rec.removeprefix("sku:")) or 0) > 0, f"recommended without stock: {r}"
            if r["segment"] == "VIP_HIGH_INVENTORY":
                assert (seen["event_sku_sellable"] or 0) > 10
        for r in during:
            seen = orjson.loads(r["candidates_json"])
            assert all(c["sellable"] is None for c in seen["candidates"]), (
                "stock is unknown while Cassandra is down"
            )
            assert r["recommendation"] == []
            assert r["segment"] != "VIP_HIGH_INVENTORY"
    finally:
        if stopped_at:
            up(s.stack)
        for f in flows:
            f.stop()
