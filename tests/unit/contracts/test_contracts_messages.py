"""``segment_decisions`` messages: decisions in order, and never a message Kafka's default limit refuses."""

from __future__ import annotations

import msgspec
from decision_samples import sample_audit

from persona.contracts import (
    CandidateSku,
    DecisionEnvelope,
    decode_decisions,
    encode_decisions,
)
from persona.contracts.messages import MAX_MESSAGE_BYTES, ROWS_PER_MESSAGE

EVENT_MS = 1_795_000_000_000
LONG = "x" * 256  # the parsers' longest id


def _envelope(i: int, candidates: int) -> DecisionEnvelope:
    """A decision with ids at their longest and ``candidates`` examined SKUs."""
    audit = sample_audit(
        event_id=f"{LONG[:250]}{i:06d}",
        event_time_ms=EVENT_MS,
        event_sku_id=LONG,
        customer_id=i + 1,
        profile_snapshot=LONG,
        candidates=tuple(CandidateSku(f"{LONG[:250]}{c:06d}", c) for c in range(candidates)),
        recommendation=tuple(f"sku:{LONG[:250]}{c:06d}" for c in range(min(candidates, 5))),
        decided_at_ms=EVENT_MS + 1_500,
    )
    return DecisionEnvelope(i, audit)


def test_small_decisions_are_batched_by_count() -> None:
    small = [_envelope(i, 1) for i in range(ROWS_PER_MESSAGE + 1)]
    envs = [
        DecisionEnvelope(
            e.version,
            msgspec.structs.replace(
                e.audit,
                event_id=f"e-{i}",
                event_sku_id="A",
                profile_snapshot=None,
                candidates=(),
                recommendation=(),
            ),
        )
        for i, e in enumerate(small)
    ]
    messages = list(encode_decisions(envs))
    assert [len(decode_decisions(m)) for m in messages] == [ROWS_PER_MESSAGE, 1]


def test_large_decisions_are_split_under_the_limit_in_order() -> None:
    envs = [_envelope(i, 20) for i in range(ROWS_PER_MESSAGE)]
    messages = list(encode_decisions(envs))
    assert len(messages) > 1, "a thousand decisions this large exceed the limit together"
    assert all(len(m) <= MAX_MESSAGE_BYTES for m in messages)
    assert [e for m in messages for e in decode_decisions(m)] == envs
