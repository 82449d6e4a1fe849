"""The enrich flow as a Bytewax cluster of two processes on the real stack, beside the cdc and sink
flows: its output equals ``persona replay`` over the same input; one process killed with SIGKILL takes
its peer down, and both resume from their own recovery partition and customer log; then an inventory
change re-decides, on both processes, every customer whose recommendation held the SKU, as replay
with the SKU sold out decides them.

Each enrich process has its own recovery partition and customer log (``Cluster``), as a pod of a
StatefulSet would; which shards each holds is read from the shard directories of its customer log.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from pipeline_support import Scenario, load_stores, produce_in_time_order, wait_for

from persona.contracts import (
    DEFAULT_TIME_WINDOW,
    InventoryRow,
    Ok,
    inventory_row_to_json,
    parse_behavior_event,
    parse_decision_message,
    parse_order_changes,
)
from persona.datagen import DataGenerator, GeneratorConfig, WireRecord
from persona.datagen.loaders import write_files
from persona.inventory import CassandraInventory, StockLevel
from persona.kafka import make_producer, produce_all, read_topic
from persona.localstack.runner import Cluster, FlowProcess
from persona.paimon import PaimonWarehouse
from persona.replay import run_replay

pytestmark = pytest.mark.integration

START_MS = int(dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC).timestamp() * 1000)
PREFIX = "sku:"  # of the recommended items (LogicV1Config.recommendation_prefix)


def _replay(paths: dict[str, Path], inventory: Path, out: Path) -> list[dict[str, Any]]:
    run_replay(paths["events"], paths["orders"], paths["profiles"], inventory, out, out.with_suffix(".dlq"))
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


def _orders_before_last_event(records: list[WireRecord]) -> list[WireRecord]:
    """``records`` without the order changes that come after their customer's last event.

    A re-decision decides a customer's last event again with the state it has now, every order so far
    included; ``persona replay`` decided that event before any later order. Without such orders, the
    re-decision is exactly the last decision replay makes with the new stock.
    """
    now_ms = int(time.time() * 1000)
    last_event: dict[int, int] = {}
    for r in records:
        if r.kind == "event" and isinstance(
            e := parse_behavior_event(r.value, DEFAULT_TIME_WINDOW, now_ms), Ok
        ):
            last_event[e.value.user_id] = max(last_event.get(e.value.user_id, 0), e.value.event_time_ms)
    kept = []
    for r in records:
        if r.kind == "order":
            facts = parse_order_changes(r.value, DEFAULT_TIME_WINDOW, now_ms)
            if isinstance(facts, Ok) and any(
                f.customer_id in last_event and f.ts_ms > last_event[f.customer_id] for f in facts.value
            ):
                continue
        kept.append(r)
    return kept


def _shards_held(enrich: FlowProcess) -> set[int]:
    """The shards whose customer log is on this process (``shard-<key>`` directories)."""
    return {int(d.name.removeprefix("shard-")) for d in enrich.customer_log_dir.glob("shard-*")}


def _rt_decisions(s: Scenario, count: int, flows: list[FlowProcess]) -> dict[tuple[int, int], Any]:
    """Every decision on ``marketing_segments_rt`` by (customer, version), once ``count`` are there."""
    rt = wait_for(
        f"{count} rt rows",
        lambda: (
            got
            if len(
                got := read_topic(
                    s.stack.kafka_bootstrap, s.topics.marketing_segments_rt, min_count=count, timeout=2
                )
            )
            >= count
            else None
        ),
        120,
        flows,
    )
    seen: dict[tuple[int, int], Any] = {}
    for record in rt:
        m = parse_decision_message(record.value or b"")
        assert isinstance(m, Ok)
        key = (m.value.decision.customer_id, m.value.version)
        assert key not in seen, f"decision {key} twice"
        seen[key] = m.value.decision
    return seen


def _same(got: Any, want: dict[str, Any], where: object) -> None:
    assert got.segment == want["segment"], where
    assert list(got.recommendation) == want["recommendation"], where
    assert (got.score is None) == (want["score"] is None), where
    if want["score"] is not None:
        assert got.score == pytest.approx(want["score"], abs=1e-6), where


def test_two_enrich_processes_equal_replay_and_redecide_across_processes(
    scenario: Scenario, tmp_path: Path
) -> None:
    s = scenario
    gen = DataGenerator(
        GeneratorConfig(
            seed=21,
            customers=80,
            skus=12,
            order_fraction=0.15,
            malformed_fraction=0.02,
            duplicate_fraction=0.03,
        )
    )
    records = _orders_before_last_event(gen.records(500, START_MS, 60_000))
    paths = write_files(gen, tmp_path / "input", records, START_MS)
    expected = _replay(paths, paths["inventory"], tmp_path / "replay.jsonl")
    load_stores(gen, s, START_MS)

    ports = _free_ports(2)
    addresses = tuple(f"127.0.0.1:{p}" for p in ports)
    env = {**s.env, "PERSONA_ENRICH_SHARDS": "8"}
    enrich = [
        FlowProcess("enrich", s.state_dir, env, snapshot_seconds=1, cluster=Cluster.of(addresses, i))
        for i in range(2)
    ]
    cdc = FlowProcess("cdc", s.state_dir, env, snapshot_seconds=1)
    sink = FlowProcess("sink", s.state_dir, env, snapshot_seconds=1)
    flows = [cdc, *enrich, sink]
    for f in flows:
        f.start()
    try:
        producer = make_producer(s.stack.kafka_bootstrap)
        # Every process snapshots the input partitions it reads into its recovery partition: the
        # cluster's progress is the union of both.
        progress = _ClusterProgress(enrich)
        produce_in_time_order(producer, records, s.topics, progress, flows, 120)  # type: ignore[arg-type]

        by_customer: dict[int, list[dict[str, Any]]] = {}
        for d in expected:
            by_customer.setdefault(d["customer_id"], []).append(d)
        seen = _rt_decisions(s, len(expected), flows)
        assert len(seen) == len(expected), "every decision once per (customer, version)"
        for customer_id, decisions in by_customer.items():
            for version, want in enumerate(decisions, start=1):
                _same(seen[(customer_id, version)], want, (customer_id, version))

        # Both processes hold shards, none the same one.
        wait_for(
            "both enrich processes to write their shards' customer logs",
            lambda: True if all(_shards_held(e) for e in enrich) else None,
            60,
            flows,
        )
        held = [_shards_held(e) for e in enrich]
        assert held[0].isdisjoint(held[1]), held
        assert held[0] | held[1] == set(range(8)), held

        # A crash: process 1 is killed (kill -9) once the cluster has durably processed the input; its
        # peer cannot go on without it and ends too (under `persona run`, its supervisor restarts
        # it). Both start again, as their pods would, and each
        # rebuilds its shards from its own recovery partition and customer log: the re-decisions
        # below need the offers they restore.
        events = sum(r.kind == "event" for r in records)
        wait_for(
            "the cluster to commit every event",
            lambda: True if progress.committed_offsets(s.topics.behavior_events) >= events else None,
            60,
            flows,
        )
        enrich[1].kill()
        peer_ended = time.monotonic() + 60
        while enrich[0].alive() and time.monotonic() < peer_ended:
            time.sleep(0.2)  # poll interval of the deadline loop
        assert not enrich[0].alive(), "process 0 still runs 60 s after its peer was killed"
        for e in enrich:
            e.start()

        # A SKU recommended to customers on both processes sells out.
        offered: dict[str, set[int]] = {}
        for customer_id, decisions in by_customer.items():
            for item in decisions[-1]["recommendation"]:
                offered.setdefault(item.removeprefix(PREFIX), set()).add(customer_id)

        def on_both(customers: set[int]) -> bool:
            return all(any(c % 8 in shards for c in customers) for shards in held)

        sku, affected = max(
            ((k, v) for k, v in offered.items() if on_both(v)),
            key=lambda kv: len(kv[1]),
            default=(None, set()),
        )
        assert sku is not None, f"no SKU is recommended on both processes: {offered}"
        sold_out = tmp_path / "inventory-sold-out.jsonl"
        rows = [orjson.loads(line) for line in paths["inventory"].read_bytes().splitlines()]
        changed_at = dt.datetime.fromtimestamp(START_MS / 1000 + 3600, dt.UTC)
        sold_out.write_bytes(
            b"".join(
                orjson.dumps(
                    {**r, "available_qty": 0, "reserved_qty": 0, "updated_at": changed_at.isoformat()}
                    if r["sku_id"] == sku
                    else r
                )
                + b"\n"
                for r in rows
            )
        )
        after = _replay(paths, sold_out, tmp_path / "replay-sold-out.jsonl")
        last_after = {d["customer_id"]: d for d in after}

        store = CassandraInventory(
            [s.stack.cassandra_contact[0]], s.stack.cassandra_contact[1], table=s.inventory_table
        )
        try:
            store.upsert_many([StockLevel(sku, 0, 0, changed_at)])
        finally:
            store.close()
        change = InventoryRow(sku, 0, 0, int(changed_at.timestamp() * 1000))
        produce_all(producer, s.topics.inventory_changes, [(sku.encode(), inventory_row_to_json(change))])

        # Each affected customer gets one more decision: replay's last one with the SKU sold out.
        seen = _rt_decisions(s, len(expected) + len(affected), flows)
        assert len(seen) == len(expected) + len(affected)
        for customer_id in affected:
            version = len(by_customer[customer_id]) + 1
            got = seen[(customer_id, version)]
            assert PREFIX + sku not in got.recommendation
            _same(got, last_after[customer_id], (customer_id, version))

        # Paimon marketing_segments (through the sink): every customer's latest decision, committed.
        warehouse = PaimonWarehouse(s.warehouse)
        want_version = {c: len(d) + (c in affected) for c, d in by_customer.items()}

        def paimon_rows() -> list[dict[str, Any]] | None:
            rows = warehouse.read_arrow("marketing_segments").to_pylist()
            return rows if {r["customer_id"]: r["version"] for r in rows} == want_version else None

        for row in wait_for("marketing_segments committed", paimon_rows, 90, flows):
            want = (
                last_after[row["customer_id"]]
                if row["customer_id"] in affected
                else by_customer[row["customer_id"]][-1]
            )
            assert row["segment"] == want["segment"]
            assert row["recommendation"] == want["recommendation"]
    finally:
        for f in flows:
            f.stop()


class _ClusterProgress:
    """What ``produce_in_time_order`` asks of the enrich flow, over every process of its cluster."""

    def __init__(self, processes: list[FlowProcess]) -> None:
        self._processes = processes

    def committed_offsets(self, topic: str) -> int:
        offsets: dict[str, int] = {}
        for p in self._processes:
            for key, value in p.input_offsets().items():
                offsets[key] = max(offsets.get(key, 0), value)
        return sum(v for k, v in offsets.items() if k.split("-", 1)[1] == topic)


def _free_ports(count: int) -> list[int]:
    """Free local ports for the cluster's processes, as the OS picks them (so parallel runs never clash)."""
    import socket

    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
