"""The cdc flow's normalization under the input rules (issue 17): a moved order stops counting for the
old customer and counts for the new one; poison records become bounded dead letters."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import orjson
from flow_io import records

from persona.contracts import (
    DLQ_MAX_BYTES,
    BehaviorEvent,
    Ok,
    OrderFact,
    TimeWindow,
    parse_dlq_record,
    parse_order_change,
    time_to_ms,
)
from persona.decisions import DEFAULT_CONFIG, EMPTY_STATE, CustomerState, decide, step_event, step_order
from persona.decisions.logic import effective_rfm
from persona.flows.cdc import normalize
from persona.kafka.bytewax_io import RawBatch
from persona.settings import PipelineSettings

SETTINGS = PipelineSettings()


def row(customer: int, status: str, updated: str) -> dict[str, Any]:
    return {
        "order_id": 77,
        "customer_id": customer,
        "status": status,
        "total_amount": "100.00",
        "currency": "VND",
        "order_time": "2026-11-22T10:00:00Z",
        "updated_at": updated,
    }


def envelope(op: str, ts: str, before: Any = None, after: Any = None) -> bytes:
    return orjson.dumps({"before": before, "after": after, "op": op, "ts_ms": time_to_ms(ts), "source": {}})


def run_cdc(
    values: list[bytes], settings: PipelineSettings = SETTINGS
) -> list[tuple[str, bytes | None, bytes | None]]:
    batch = RawBatch(settings.topics.orders_cdc, 0, [b"k"] * len(values), list(values))
    return records(normalize(settings, batch))


def facts_by_customer(out: list[tuple[str, bytes | None, bytes | None]]) -> dict[int, list[OrderFact]]:
    """What the enrich flow reads from ``order_facts``, per customer (the key)."""
    by_customer: dict[int, list[OrderFact]] = {}
    for topic, key, value in out:
        if topic != SETTINGS.topics.order_facts:
            continue
        parsed = parse_order_change(value or b"")
        assert isinstance(parsed, Ok) and key == str(parsed.value.customer_id).encode()
        by_customer.setdefault(parsed.value.customer_id, []).append(parsed.value)
    return by_customer


PLACED = row(1, "PAID", "2026-11-22T10:00:00Z")
MOVED = row(2, "PAID", "2026-11-23T09:00:00Z")


def test_a_moved_order_counts_for_the_new_customer_only() -> None:
    out = run_cdc(
        [
            envelope("c", "2026-11-22T10:00:00Z", after=PLACED),
            envelope("u", "2026-11-23T09:00:00Z", before=PLACED, after=MOVED),
        ]
    )
    facts = facts_by_customer(out)
    assert [(f.customer_id, f.deleted) for f in facts[1]] == [(1, False), (1, True)]
    assert [(f.customer_id, f.deleted) for f in facts[2]] == [(2, False)]

    states: dict[int, CustomerState] = {}
    for customer, changes in facts.items():
        for fact in changes:
            states[customer] = step_order(states.get(customer, EMPTY_STATE), fact, None)
    event_ms = time_to_ms("2026-11-24T00:00:00Z")
    for customer, expected in ((1, (None, None, None)), (2, (2, 1, "100.00"))):
        state = states[customer]
        event = BehaviorEvent(f"e-{customer}", customer, "view", None, event_ms)
        pending = step_event(state, event, 1, DEFAULT_CONFIG)
        assert pending is not None
        _decision, audit = decide(event, None, pending.state, {}, DEFAULT_CONFIG, event_ms, pending.recent)
        monetary = None if audit.monetary is None else format(audit.monetary, "f")
        assert (audit.recency, audit.frequency, monetary) == expected, customer
        assert audit.segment == ("DORMANT" if customer == 1 else "ACTIVE")


def test_the_retraction_supersedes_whichever_version_the_old_customer_holds() -> None:
    # Delivered twice and in any order, the old customer's state ends without the order.
    out = run_cdc([envelope("u", "2026-11-23T09:00:00Z", before=PLACED, after=MOVED)])
    (retraction,) = facts_by_customer(out)[1]
    created = facts_by_customer(run_cdc([envelope("c", "2026-11-22T10:00:00Z", after=PLACED)]))[1][0]
    for order in ((created, retraction), (retraction, created), (created, retraction, created, retraction)):
        state = EMPTY_STATE
        for fact in order:
            state = step_order(state, fact, None)
        rfm = effective_rfm(state, None, time_to_ms("2026-11-24T00:00:00Z"))
        assert rfm.frequency is None and rfm.adjusting_order_ids == ()


def test_moving_back_counts_for_the_first_customer_again() -> None:
    back = row(1, "PAID", "2026-11-23T10:00:00Z")
    out = run_cdc(
        [
            envelope("c", "2026-11-22T10:00:00Z", after=PLACED),
            envelope("u", "2026-11-23T09:00:00Z", before=PLACED, after=MOVED),
            envelope("u", "2026-11-23T10:00:00Z", before=MOVED, after=back),
        ]
    )
    counted = {}
    for customer, changes in facts_by_customer(out).items():
        state = EMPTY_STATE
        for fact in changes:
            state = step_order(state, fact, None)
        counted[customer] = effective_rfm(state, None, time_to_ms("2026-11-24T00:00:00Z")).frequency
    assert counted == {1: 1, 2: None}


def test_poison_records_become_bounded_dead_letters_and_the_batch_goes_on() -> None:
    now = int(time.time() * 1000)
    huge = b'{"op": "c", "after": "' + b"\x01" * 2_000_000 + b'"}'
    poison = {
        b"not json": "order_change: ",
        huge: "order_change: record of",
        envelope("c", "2026-11-22T10:00:00Z", after={**PLACED, "total_amount": "1.005"}): "amount_scale",
        orjson.dumps({"after": PLACED, "op": "c", "ts_ms": 253402300799999}): "implausible_time",
        orjson.dumps({"after": PLACED, "op": "c", "ts_ms": 1764300000}): "epoch_seconds",
        orjson.dumps({"after": PLACED, "op": "c", "ts_ms": 0}): "implausible_time",
    }
    valid = envelope("c", "2026-11-22T10:00:00Z", after=PLACED)
    out = run_cdc([*poison, valid])
    dlq = [(k, v) for t, k, v in out if t == SETTINGS.topics.dlq(SETTINGS.topics.orders_cdc)]
    assert len(dlq) == len(poison)
    for (raw, expected), (_key, value) in zip(poison.items(), dlq, strict=True):
        assert value is not None and len(value) <= DLQ_MAX_BYTES
        record = parse_dlq_record(value)
        assert isinstance(record, Ok) and expected in record.value.reason
        assert record.value.raw_sha256 == hashlib.sha256(raw).hexdigest()
        assert record.value.failed_at_ms >= now
    assert len(facts_by_customer(out)[1]) == 1


def test_the_window_comes_from_the_settings() -> None:
    strict = PipelineSettings(time_window=TimeWindow(min_ms=time_to_ms("2026-11-23T00:00:00Z")))
    out = run_cdc([envelope("c", "2026-11-22T10:00:00Z", after=PLACED)], strict)
    assert [t for t, _k, _v in out] == [strict.topics.dlq(strict.topics.orders_cdc)]
