"""Poison records through the real flows (issue 17): each kind goes to its topic's `.dlq` as a bounded
record with its rule's reason, and the valid records after it are decided — no record stops a flow.

The amount_scale and implausible_time kinds are rejected by the cdc/enrich parsers, before the sink:
what reaches the sink can be written to its typed Paimon columns. A moved order stops counting for its
old customer; the same event_id of two customers is two decisions and two audit rows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType
from pipeline_support import Scenario, wait_for

from persona.contracts import DLQ_MAX_BYTES, Ok, Topics, ms_to_iso, parse_decision_message, parse_dlq_record
from persona.kafka import make_producer, produce_all, read_topic
from persona.localstack.runner import FlowProcess
from persona.paimon import PaimonWarehouse, ensure_tables
from persona.paimon.catalog import PaimonError
from persona.paimon.schema import MARKETING_SEGMENTS, SEGMENT_DECISIONS

pytestmark = pytest.mark.integration

NOW_MS = int(time.time() * 1000)
T = ms_to_iso(NOW_MS - 3_600_000)  # an hour ago: inside the plausibility window
ORDER_A, CUSTOMER_A, CUSTOMER_B = 9_001, 901, 902
BIG_LIMIT = 4 * 1024 * 1024  # the behavior_events topic of this test accepts a ~2 MB poison record


def event(event_id: str, user: int, **changes: Any) -> bytes:
    doc = {"event_id": event_id, "user_id": user, "event_type": "view", "sku_id": None, "event_time": T}
    return orjson.dumps({**doc, **changes})


def order_row(customer: int, **changes: Any) -> dict[str, Any]:
    row = {
        "order_id": ORDER_A,
        "customer_id": customer,
        "status": "PAID",
        "total_amount": "100.00",
        "currency": "VND",
        "order_time": T,
        "updated_at": T,
    }
    return {**row, **changes}


def envelope(op: str, ts_ms: int, before: Any = None, after: Any = None) -> bytes:
    return orjson.dumps({"before": before, "after": after, "op": op, "ts_ms": ts_ms, "source": {}})


def _control_event(size: int) -> bytes:
    return b'{"event_id": "' + b"\x01\x02\x1f" * (size // 3) + b'", "user_id": 1}'


# (raw, the reason's expected start) per poison kind on behavior_events.
EVENT_POISON: list[tuple[bytes, str]] = [
    (b'{"event_id": "x", "user_id": ', "behavior_event: "),
    (_control_event(200_000), "behavior_event: "),
    (_control_event(2_000_000), "behavior_event: record of 2000"),
    (event("bad-utf8-\xff", 1).replace(b"\xc3\xbf", b"\xff"), "behavior_event: "),
    (event("far", 1, event_time="9999-12-31T23:59:59Z"), "behavior_event: implausible_time: event_time"),
    (event("zero", 1, event_time=0), "behavior_event: implausible_time: event_time"),
    (event("seconds", 1, event_time=NOW_MS // 1000), "behavior_event: epoch_seconds: event_time"),
]
ORDER_POISON: list[tuple[bytes, str]] = [
    (
        envelope("c", NOW_MS, after=order_row(1, total_amount="12.345")),
        "order_change: amount_scale: total_amount",
    ),
    (envelope("c", 253402300799999, after=order_row(1)), "order_change: implausible_time: ts_ms"),
    (
        envelope("c", NOW_MS, after=order_row(1, order_time=1764300000)),
        "order_change: epoch_seconds: order_time",
    ),
]


def _allow_large_messages(s: Scenario, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": s.stack.kafka_bootstrap})
    entry = ConfigEntry("max.message.bytes", str(BIG_LIMIT), incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[entry])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(30)


def _produce(s: Scenario, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = make_producer(s.stack.kafka_bootstrap, **{"message.max.bytes": BIG_LIMIT})
    produce_all(producer, topic, records)


def _rt(s: Scenario) -> list[Any]:
    out = []
    for r in read_topic(s.stack.kafka_bootstrap, s.topics.marketing_segments_rt, timeout=3):
        parsed = parse_decision_message(r.value or b"")
        assert isinstance(parsed, Ok)
        out.append(parsed.value.decision)
    return out


class _Prober:
    """Sends a fresh event of ``customer`` at most every 2 s until its newest decision's score is
    ``want``: an order change and an event reach the enrich flow by two topics, in no fixed order."""

    def __init__(self, s: Scenario, customer: int) -> None:
        self.s, self.customer, self.sent, self.last, self.sent_ms = s, customer, 0, 0.0, 0

    def until_score(self, want: float | None) -> Any:
        def probe() -> bool | None:
            mine = [d for d in _rt(self.s) if d.customer_id == self.customer]
            if self.sent and mine and mine[-1].event_time_ms == self.sent_ms and mine[-1].score == want:
                return True
            if time.monotonic() - self.last > 2:
                self.sent += 1
                self.sent_ms = NOW_MS - 3_600_000 + self.sent * 1000 + self.customer
                value = event(f"probe-{self.customer}-{self.sent}", self.customer, event_time=self.sent_ms)
                _produce(self.s, self.s.topics.behavior_events, [(str(self.customer).encode(), value)])
                self.last = time.monotonic()
            return None

        return probe


def _dead_letters(s: Scenario, source: str, count: int) -> list[Any]:
    records = read_topic(s.stack.kafka_bootstrap, Topics.dlq(source), min_count=count, timeout=5)
    out = []
    for r in records:
        assert r.value is not None and len(r.value) <= DLQ_MAX_BYTES
        parsed = parse_dlq_record(r.value)
        assert isinstance(parsed, Ok), parsed
        out.append(parsed.value)
    return out


def _check_dead_letters(
    s: Scenario, source: str, poison: list[tuple[bytes, str]], flows: list[FlowProcess]
) -> None:
    got = wait_for(
        f"{len(poison)} dead letters on {source}.dlq",
        lambda: d if len(d := _dead_letters(s, source, len(poison))) >= len(poison) else None,
        120,
        flows,
    )
    by_hash = {d.raw_sha256: d for d in got}
    assert len(got) == len(poison), [d.reason for d in got]
    for raw, reason in poison:
        dead = by_hash.get(hashlib.sha256(raw).hexdigest())
        assert dead is not None, f"no dead letter for {raw[:60]!r}"
        assert dead.reason.startswith(reason), dead.reason
        assert dead.raw_length == len(raw)
        assert dead.raw == raw if not dead.raw_truncated else raw.startswith(dead.raw)


def test_poison_records_go_to_the_dlq_and_the_flows_keep_going(scenario: Scenario) -> None:
    s = scenario
    _allow_large_messages(s, s.topics.behavior_events)
    flows = [FlowProcess(n, s.state_dir, s.env, snapshot_seconds=1) for n in ("cdc", "enrich", "sink")]
    for f in flows:
        f.start()
    try:
        # Poison first, then valid records behind it, on the same partitions (same keys).
        _produce(s, s.topics.behavior_events, [(b"1", raw) for raw, _ in EVENT_POISON])
        _produce(s, s.topics.orders_cdc, [(b"1", raw) for raw, _ in ORDER_POISON])
        # The same event_id for two customers: two events, two decisions, two audit rows.
        valid = [(b"1", event("shared-id", 1)), (b"2", event("shared-id", 2))]
        valid += [(b"1", event(f"after-{i}", 1 + i % 3)) for i in range(10)]
        _produce(s, s.topics.behavior_events, valid)

        # A moved order: counted for A, then moved to B, it counts for B and no longer for A.
        ts = NOW_MS - 3_000_000
        _produce(s, s.topics.orders_cdc, [(b"9001", envelope("c", ts, after=order_row(CUSTOMER_A)))])
        counted = 1 * 0.5 + 100 * 0.1  # DESIGN §4.3, one 100.00 order and no profile
        wait_for("the order counted for A", _Prober(s, CUSTOMER_A).until_score(counted), 120, flows)
        moved = envelope("u", ts + 1000, before=order_row(CUSTOMER_A), after=order_row(CUSTOMER_B))
        _produce(s, s.topics.orders_cdc, [(b"9001", moved)])
        wait_for("the moved order counted for B", _Prober(s, CUSTOMER_B).until_score(counted), 120, flows)
        wait_for(
            "the moved order no longer counted for A", _Prober(s, CUSTOMER_A).until_score(None), 120, flows
        )

        _check_dead_letters(s, s.topics.behavior_events, EVENT_POISON, flows)
        _check_dead_letters(s, s.topics.orders_cdc, ORDER_POISON, flows)

        want = {(orjson.loads(v)["user_id"], orjson.loads(v)["event_id"]) for _k, v in valid}

        def audited() -> set[tuple[int, str]] | None:
            rows = PaimonWarehouse(s.warehouse).read_arrow("segment_decisions").to_pylist()
            got = {(r["customer_id"], r["event_id"]) for r in rows}
            return got if got >= want else None

        wait_for("every valid event in the audit", audited, 120, flows)
        assert all(f.alive() for f in flows), "no poison record stops a flow"
        assert not read_topic(s.stack.kafka_bootstrap, Topics.dlq(s.topics.order_facts), timeout=3)
    finally:
        for f in flows:
            f.stop()


def test_an_audit_table_with_the_old_key_is_a_clear_error(tmp_path: Path) -> None:
    old = dataclasses.replace(SEGMENT_DECISIONS, primary_keys=("event_date", "event_id"))
    ensure_tables(tmp_path, specs=(old,))
    with pytest.raises(PaimonError) as error:
        ensure_tables(tmp_path)
    message = str(error.value)
    assert "persona.segment_decisions" in message
    assert "(event_date, event_id)" in message and "(event_date, customer_id, event_id)" in message
    assert "segment_decisions" in message and "persona stack down --wipe" in message


def test_the_sink_refuses_an_audit_table_with_the_old_key(tmp_path: Path) -> None:
    """The sink opens its tables without ``ensure_tables`` (the stack made them): it checks the key
    itself, so an old warehouse stops it with the recovery instead of merging two customers' audits."""
    from persona.flows.sink.flow import PaimonSink
    from persona.settings import PipelineSettings

    old = dataclasses.replace(SEGMENT_DECISIONS, primary_keys=("event_date", "event_id"))
    ensure_tables(tmp_path, specs=(old, MARKETING_SEGMENTS))
    sink = PaimonSink(PipelineSettings(warehouse=str(tmp_path)))
    with pytest.raises(PaimonError, match=r"\(event_date, customer_id, event_id\)"):
        sink.build_part("paimon", "paimon", None)
