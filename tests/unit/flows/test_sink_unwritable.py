"""A decision that decodes but that the audit table cannot hold (real pyarrow and datetime conversion
errors) becomes a dead letter of its own; every other decision of its batch is written."""

from __future__ import annotations

import base64
import logging
from decimal import Decimal

import orjson
import pytest
from decision_samples import sample_audit

from persona.contracts import (
    DecisionEnvelope,
    decode_decisions,
    encode_decisions,
)
from persona.flows.sink.flow import DecisionsParser
from persona.flows.sink.rows import audit_rows
from persona.kafka.bytewax_io import RawBatch
from persona.paimon.schema import SEGMENT_DECISIONS
from persona.settings import PipelineSettings

EVENT_MS = 1_795_000_123_456  # 2026-11-18T11:08:43.456Z
YEAR_10000_MS = 253_402_300_800_000  # 10000-01-01T00:00:00Z: no ISO date, no Python datetime


def _envelope(event_id: str, version: int = 1, **changes: object) -> DecisionEnvelope:
    return DecisionEnvelope(
        version,
        sample_audit(
            **{"event_id": event_id, "event_time_ms": EVENT_MS, "decided_at_ms": EVENT_MS + 1_500, **changes}
        ),
    )


UNWRITABLE = {
    "decimal-scale": {"profile_monetary": Decimal("12.345")},
    "decimal-precision": {"monetary": Decimal("12345678901234567890.00")},
    "int32-range": {"profile_recency": 2**40},
    "year-10000": {"event_time_ms": YEAR_10000_MS},
}


def test_a_batch_that_fits_is_converted_whole() -> None:
    envs = [_envelope(f"e-{i}", i) for i in range(5)]
    table, unwritable = audit_rows(envs, SEGMENT_DECISIONS.schema)
    assert unwritable == [] and table is not None
    assert table.column("event_id").to_pylist() == [f"e-{i}" for i in range(5)]


@pytest.mark.parametrize("kind", list(UNWRITABLE))
def test_each_kind_of_unwritable_value_is_isolated_and_the_rest_written(kind: str) -> None:
    envs = [_envelope(f"e-{i}", i) for i in range(9)]
    envs[6] = _envelope("bad", 6, **UNWRITABLE[kind])  # type: ignore[arg-type]
    table, unwritable = audit_rows(envs, SEGMENT_DECISIONS.schema)
    assert table is not None and table.schema == SEGMENT_DECISIONS.schema
    assert table.column("event_id").to_pylist() == [f"e-{i}" for i in range(9) if i != 6]
    assert [(u.index, u.envelope) for u in unwritable] == [(6, envs[6])]
    assert unwritable[0].error  # the converter's own words, e.g. "ArrowInvalid: Rescaling Decimal128 ..."


def test_several_unwritable_decisions_anywhere_in_a_large_batch() -> None:
    envs = [_envelope(f"e-{i}", i) for i in range(1000)]
    bad = {0: "decimal-scale", 517: "year-10000", 518: "int32-range", 999: "decimal-precision"}
    for index, kind in bad.items():
        envs[index] = _envelope(f"bad-{index}", index, **UNWRITABLE[kind])  # type: ignore[arg-type]
    table, unwritable = audit_rows(envs, SEGMENT_DECISIONS.schema)
    assert [u.index for u in unwritable] == sorted(bad)
    assert table is not None and table.num_rows == 1000 - len(bad)
    assert table.column("version").to_pylist() == [i for i in range(1000) if i not in bad], "order kept"
    assert "Rescaling Decimal128 value would cause data loss" in unwritable[0].error


def test_a_batch_of_only_unwritable_decisions_has_no_rows() -> None:
    envs = [_envelope("bad", 1, **UNWRITABLE["decimal-scale"])]  # type: ignore[arg-type]
    table, unwritable = audit_rows(envs, SEGMENT_DECISIONS.schema)
    assert table is None and [u.index for u in unwritable] == [0]


def _dead_letter_raw(record: dict[str, object]) -> bytes:
    raw = str(record["raw"])
    return base64.b64decode(raw) if record["raw_base64"] else raw.encode()


def test_the_parse_step_dead_letters_undecodable_messages_and_unwritable_decisions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = PipelineSettings()
    parser = DecisionsParser(settings)
    scale = _envelope("bad-scale", 2, **UNWRITABLE["decimal-scale"])  # type: ignore[arg-type]
    year = _envelope("bad-year", 5, **UNWRITABLE["year-10000"])  # type: ignore[arg-type]
    messages = [
        (b"shard-0", next(encode_decisions([_envelope("e-1", 1), scale, _envelope("e-3", 3)]))),
        (b"shard-1", b"\xc1 not msgpack"),
        (b"shard-2", b"\x90"),  # an empty msgpack array: no decision
        (b"shard-3", next(encode_decisions([_envelope("e-4", 4), year]))),
    ]
    batch = RawBatch("segment_decisions", 0, [k for k, _ in messages], [v for _, v in messages])
    with caplog.at_level(logging.WARNING, logger="persona.flows.sink"):
        out = dict(parser(batch))
    assert out["paimon"].column("event_id").to_pylist() == ["e-1", "e-3", "e-4"]
    dlq = out["dlq"]
    assert {topic for topic, _k, _v in dlq} == {"segment_decisions.dlq"}
    letters = {key: orjson.loads(value or b"") for _t, key, value in dlq}
    assert set(letters) == {b"shard-0", b"shard-1", b"shard-3"}, "each dead letter keeps its message's key"
    assert letters[b"shard-1"]["reason"].startswith("not a msgpack array of decisions")
    assert letters[b"shard-0"]["reason"].startswith("unwritable: ArrowInvalid: ")
    assert letters[b"shard-3"]["reason"].startswith("unwritable: ")
    # A dead decision is itself a segment_decisions message: it can be replayed once fixed.
    assert decode_decisions(_dead_letter_raw(letters[b"shard-0"])) == [scale]
    assert decode_decisions(_dead_letter_raw(letters[b"shard-3"])) == [year]
    assert parser.unwritable == 2
    logged = [r.getMessage() for r in caplog.records if "unwritable_decision" in r.getMessage()]
    assert len(logged) == 2 and "event_id=bad-year" in logged[1] and "unwritable=2" in logged[1]


def test_a_batch_of_good_decisions_has_no_dead_letters() -> None:
    parser = DecisionsParser(PipelineSettings())
    raw = next(encode_decisions([_envelope("e-1", 1), _envelope("e-2", 2)]))
    out = dict(parser(RawBatch("segment_decisions", 0, [b"k"], [raw])))
    assert set(out) == {"paimon"} and out["paimon"].num_rows == 2 and parser.unwritable == 0
