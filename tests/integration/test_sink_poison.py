"""The sink flow on the real warehouse and broker: a decision that decodes but that the audit table
cannot hold, and a message that does not decode, sit among good ones; the good ones are committed to
Paimon, the others are dead letters on segment_decisions.dlq, and the flow keeps going."""

from __future__ import annotations

import base64
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from bytewax.testing import TestingSource, run_main
from decision_samples import sample_audit

from persona.contracts import (
    DecisionEnvelope,
    Topics,
    decode_decisions,
    encode_decisions,
)
from persona.flows.sink import build_flow
from persona.kafka import KafkaAdmin, read_topic
from persona.kafka.bytewax_io import RawBatch
from persona.localstack import StackSettings
from persona.paimon import PaimonWarehouse, ensure_tables
from persona.settings import PipelineSettings

pytestmark = pytest.mark.integration

T0 = 1_795_000_000_000  # 2026-11-18T...Z


def _envelope(event_id: str, customer_id: int, version: int, **changes: object) -> DecisionEnvelope:
    at = T0 + version * 1000
    fields = {
        "event_id": event_id,
        "event_time_ms": at,
        "customer_id": customer_id,
        "decided_at_ms": at + 500,
    }
    return DecisionEnvelope(version, sample_audit(**{**fields, **changes}))


def test_unwritable_decisions_are_dead_letters_and_the_rest_reach_paimon(
    stack: StackSettings, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    prefix = unique_name("sink_poison") + "_"
    topics = Topics.with_prefix(prefix)
    admin = KafkaAdmin(stack.kafka_bootstrap)
    dlq_topic = Topics.dlq(topics.segment_decisions)
    admin.create_topic(dlq_topic, 1)
    ensure_tables(tmp_path)
    settings = PipelineSettings(kafka_bootstrap=stack.kafka_bootstrap, warehouse=str(tmp_path), topics=topics)

    # An order amount with 3 decimals (the audit's DECIMAL(12,2) cannot hold it) and an event in year
    # 10000, each among good decisions of the same message; then garbage; then more good ones.
    scale = _envelope("bad-scale", 7, 2, profile_monetary=Decimal("12.345"))
    year = _envelope("bad-year", 8, 1, event_time_ms=253_402_300_800_000)
    first = [_envelope("e-1", 7, 1), scale, _envelope("e-3", 7, 3), year]
    second = [_envelope("e-4", 8, 2), _envelope("e-5", 9, 1)]
    values = [next(encode_decisions(first)), b"\x00garbage", next(encode_decisions(second))]
    batches = [
        RawBatch(topics.segment_decisions, 0, [b"s0", b"s1"], values[:2]),
        RawBatch(topics.segment_decisions, 0, [b"s2"], values[2:]),
    ]
    try:
        run_main(build_flow(settings, TestingSource(batches)))  # returns: the flow did not die

        warehouse = PaimonWarehouse(tmp_path)
        audit = warehouse.read_arrow("segment_decisions").to_pylist()
        assert sorted(r["event_id"] for r in audit) == ["e-1", "e-3", "e-4", "e-5"]
        segments = warehouse.read_arrow("marketing_segments").to_pylist()
        assert sorted((r["customer_id"], r["version"]) for r in segments) == [(7, 3), (8, 2), (9, 1)]

        dead = read_topic(stack.kafka_bootstrap, dlq_topic, min_count=3, timeout=30)
        letters = {r.key: orjson.loads(r.value or b"") for r in dead}
        assert len(dead) == 3 and set(letters) == {b"s0", b"s1"}
        garbage = [r for r in dead if r.key == b"s1"]
        assert orjson.loads(garbage[0].value or b"")["reason"].startswith("not a msgpack array of decisions")
        unwritable = [orjson.loads(r.value or b"") for r in dead if r.key == b"s0"]
        assert all(u["reason"].startswith("unwritable: ") for u in unwritable)
        assert any("Rescaling Decimal128" in u["reason"] for u in unwritable)
        replayable = sorted(
            (env.audit.event_id for u in unwritable for env in decode_decisions(base64.b64decode(u["raw"]))),
        )
        assert replayable == ["bad-scale", "bad-year"]
    finally:
        admin.delete_topics([dlq_topic], missing_ok=True)
