"""GDPR erasure end to end on the real stack (docs/erasure.md): a customer decided by the enrich and
sink flows (separate processes), then ``persona erase``: gone from every current Paimon table, a
tombstone as the latest value of its key on ``marketing_segments_rt``, the erasure recorded, the enrich
state forgotten; an old event replayed after the erasure does not bring the customer back, a fresh one
does (as a new customer)."""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from pipeline_support import Scenario, wait_for

from persona.cli.main import main
from persona.contracts import Ok, parse_decision_message
from persona.flows.enrich.state import EnrichState, load_customer_log
from persona.inventory import CassandraInventory, StockLevel
from persona.kafka import end_offsets, make_producer, produce_all, read_topic
from persona.localstack.runner import FlowProcess
from persona.paimon import PaimonWarehouse, TableWriter
from persona.publish import Publisher, PublishSettings

pytestmark = pytest.mark.integration

ERASED, KEPT = 7, 8


def _event(event_id: str, user_id: int, sku: str, at_ms: int) -> tuple[bytes, bytes]:
    value = {
        "event_id": event_id,
        "user_id": user_id,
        "event_type": "view",
        "sku_id": sku,
        "event_time": at_ms,
        "session_id": None,
        "channel": "web",
    }
    return str(user_id).encode(), orjson.dumps(value)


def _load(s: Scenario, now_ms: int) -> None:
    writer = TableWriter(PaimonWarehouse(s.warehouse), "customer_profile", commit_user="erasure-test")
    for customer_id in (ERASED, KEPT):
        writer.add(
            {
                "customer_id": customer_id,
                "segment": "VIP",
                "recency": 3,
                "frequency": 14,
                "monetary": Decimal("6000.00"),
                "lifecycle_stage": "active",
                "rfm_as_of": dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC).date() - dt.timedelta(days=1),
            }
        )
    writer.commit()
    writer.close()
    store = CassandraInventory(
        [s.stack.cassandra_contact[0]], s.stack.cassandra_contact[1], table=s.inventory_table
    )
    try:
        at = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC)
        store.upsert_many(StockLevel(sku, 100, 0, at) for sku in ("a", "b", "c", "d"))
    finally:
        store.close()


def _rt(s: Scenario, until: Any) -> list[Any]:
    return read_topic(s.stack.kafka_bootstrap, s.topics.marketing_segments_rt, until=until, timeout=3)


def _rows(warehouse: PaimonWarehouse, table: str, customer_id: int) -> list[dict[str, Any]]:
    return [r for r in warehouse.read_arrow(table).to_pylist() if r["customer_id"] == customer_id]


def test_erase_removes_the_customer_everywhere_and_a_comeback_starts_fresh(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    s = scenario
    start_ms = int(time.time() * 1000) - 60_000
    _load(s, start_ms)
    warehouse = PaimonWarehouse(s.warehouse)
    flows = [FlowProcess(name, s.state_dir, s.env, snapshot_seconds=1) for name in ("enrich", "sink")]
    for f in flows:
        f.start()
    try:
        producer = make_producer(s.stack.kafka_bootstrap)
        produce_all(
            producer,
            s.topics.behavior_events,
            [
                _event("e1", ERASED, "a", start_ms),
                _event("e2", ERASED, "b", start_ms + 1000),
                _event("k1", KEPT, "a", start_ms + 1000),
            ],
        )
        # The sink commits marketing_segments, then segment_decisions: wait for both commits.
        wait_for(
            "both customers in marketing_segments and the erased one's 2 decisions audited",
            lambda: (
                True
                if {
                    r["customer_id"]: r["version"]
                    for r in warehouse.read_arrow("marketing_segments").to_pylist()
                }
                == {ERASED: 2, KEPT: 1}
                and len(_rows(warehouse, "segment_decisions", ERASED)) == 2
                else None
            ),
            90,
            flows,
        )

        for name, value in s.env.items():
            monkeypatch.setenv(name, value)
        # The erasure reaches the Iceberg publication too, on this test's own Nessie references.
        prefix = f"erase{uuid.uuid4().hex[:8]}-"
        monkeypatch.setenv("PERSONA_NESSIE_REF_PREFIX", prefix)
        reason = "GDPR art. 17 request #T-1"
        args = ["erase", str(ERASED), "--reason", reason, "--by", "integration-test", "--wait", "90"]
        assert main(args) == 0, flows[1].log_tail()
        record = orjson.loads(capsys.readouterr().out.splitlines()[-1])
        requested_at_ms = int(
            dt.datetime.fromisoformat(record["requested_at"]).replace(tzinfo=dt.UTC).timestamp() * 1000
        )
        assert record["customer_id"] == ERASED
        assert record["reason"] == reason
        assert record["requested_by"] == "integration-test"
        assert orjson.loads(record["rows_deleted_json"]) == {
            "marketing_segments": 1,
            "segment_decisions": 2,
            "customer_profile": 1,
        }
        # Gone from every current table, the Iceberg publication's too; the other customer stays.
        publisher = Publisher(PublishSettings.from_env(os.environ))
        try:
            for table in ("marketing_segments", "segment_decisions", "customer_profile"):
                assert _rows(warehouse, table, ERASED) == [], table
                assert _rows(warehouse, table, KEPT), table
                published = publisher.read(publisher.ref("main"), table).column("customer_id").to_pylist()
                assert ERASED not in published and KEPT in published, table
        finally:
            for reference in publisher.nessie.references():
                if reference.name.startswith(prefix):
                    publisher.nessie.delete_reference(reference.name)

        # The latest value of the customer's key on the compacted rt topic is a tombstone.
        def tombstoned(records: list[Any]) -> bool:
            mine = [r for r in records if r.key == str(ERASED).encode()]
            return bool(mine) and mine[-1].value is None

        rt = _rt(s, tombstoned)
        mine = [r for r in rt if r.key == str(ERASED).encode()]
        assert mine[-1].value is None and len(mine) == 3  # two decisions, then the tombstone

        # An old event replayed after the erasure is dropped; a fresh one is a comeback.
        fresh_ms = max(int(time.time() * 1000), requested_at_ms + 1)
        produce_all(
            producer,
            s.topics.behavior_events,
            [_event("e3-replayed", ERASED, "c", start_ms + 2000), _event("e4", ERASED, "d", fresh_ms)],
        )

        def comeback(records: list[Any]) -> bool:
            return [r.key for r in records].count(str(ERASED).encode()) >= 4

        after = [r for r in _rt(s, comeback) if r.key == str(ERASED).encode()][3:]
        assert len(after) == 1, "the replayed event was dropped: one decision, the fresh event's"
        message = parse_decision_message(after[0].value or b"")
        assert isinstance(message, Ok)
        # The version counter goes on (consumers dropping stale versions accept it); nothing of the
        # erased past is used: no earlier SKU, no profile (the VIP profile was deleted).
        assert message.value.version == 3
        assert list(message.value.decision.recommendation) == ["sku:d"]
        assert message.value.decision.segment == "DORMANT"
        back = wait_for(
            "the comeback in marketing_segments",
            lambda: rows if (rows := _rows(warehouse, "marketing_segments", ERASED)) else None,
            60,
            flows,
        )
        assert back[0]["version"] == 3 and back[0]["recommendation"] == ["sku:d"]
        audit = wait_for(
            "the comeback's audit row",
            lambda: rows if (rows := _rows(warehouse, "segment_decisions", ERASED)) else None,
            60,
            flows,
        )
        assert [r["event_id"] for r in audit] == ["e4"]
        # The customer log read below is written at enrich's snapshots: wait for the epoch that took
        # the comeback to be durable (a stop may otherwise end the flow before it; CI did).
        sent = sum(end_offsets(s.stack.kafka_bootstrap, s.topics.behavior_events).values())
        wait_for(
            "enrich's epoch holding the comeback to be durable",
            lambda: True if flows[0].committed_offsets(s.topics.behavior_events) >= sent else None,
            60,
            flows,
        )
    finally:
        for f in flows:
            f.stop()

    # The enrich flow's customer log (what a restart restores) holds the comeback only, and the erasure:
    # its files in name (sequence) order, later records of a customer replacing earlier ones.
    customers: dict[int, EnrichState] = {}
    for shard in sorted(flows[0].customer_log_dir.glob("shard-*")):
        files = sorted(p for p in Path(shard).iterdir() if p.suffix in (".seg", ".base"))
        load_customer_log(files, customers, {})
    state = customers[ERASED]
    assert state.erased_at_ms == requested_at_ms
    assert state.customer.recent_skus == ("d",)
    assert state.last_event is not None and state.last_event.event_id == "e4"
    assert customers[KEPT].erased_at_ms is None
