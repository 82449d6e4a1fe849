"""The poison row's inputs and its per-kind checks: each kind is judged on its own, against replay."""

from __future__ import annotations

import dataclasses
import time

import pytest

from persona.chaos.inputs import START_MS, poison_cases
from persona.chaos.invariants import (
    AuditRow,
    CaseVerdict,
    DeadLetterKey,
    Expected,
    Observed,
    Outcome,
    PoisonCase,
    RtMessage,
    Verdict,
    check,
    reason_kind,
)
from persona.chaos.table import RowResult, render
from persona.contracts import (
    BehaviorEvent,
    Err,
    Ok,
    OrderFact,
    ParseResult,
    dlq_record_to_json,
    parse_behavior_event,
    parse_dlq_record,
    parse_order_changes,
)
from persona.datagen import WireRecord

A = Outcome("VIP", (), 0.9)
B = Outcome("REGULAR", (), None)


def _parse(record: WireRecord) -> ParseResult[BehaviorEvent] | ParseResult[tuple[OrderFact, ...]]:
    now = int(time.time() * 1000)
    if record.kind == "event":
        return parse_behavior_event(record.value, now_ms=now)
    return parse_order_changes(record.value, now_ms=now)


def _cases() -> dict[str, tuple[PoisonCase, list[WireRecord]]]:
    return {case.kind: (case, records) for case, records in poison_cases(START_MS)}


def test_every_kind_of_the_issue_is_there_and_no_record_holds_a_line_break() -> None:
    cases = _cases()
    assert set(cases) == {
        "unparseable JSON",
        "200 KB of control bytes",
        "2 MB record",
        "invalid UTF-8",
        "amount with 3 decimals",
        "year-9999 time",
        "time 0",
        "epoch seconds",
        "order moved between customers",
        "one event_id, two customers",
    }
    sizes = {kind: max(len(r.value) for r in records) for kind, (_, records) in cases.items()}
    assert sizes["2 MB record"] >= 2_000_000 and 150_000 <= sizes["200 KB of control bytes"] <= 250_000
    for _, records in cases.values():
        assert all(b"\n" not in r.value and b"\r" not in r.value for r in records)


@pytest.mark.parametrize("kind", [k for k, (c, _) in _cases().items() if c.expect == "rejected"])
def test_each_rejected_kind_breaks_its_named_rule_and_its_dead_letter_keeps_the_hash(kind: str) -> None:
    case, records = _cases()[kind]
    assert len(case.digests) == len(records)
    for record, digest in zip(records, case.digests, strict=True):
        parsed = _parse(record)
        assert isinstance(parsed, Err), kind
        assert case.rule in reason_kind(parsed.reason), parsed.reason
        # The dead letter as a flow writes it (bounded: the 2 MB one truncated) keys to the same digest.
        letter = parse_dlq_record(dlq_record_to_json("behavior_events", parsed.reason, record.value, 0))
        assert isinstance(letter, Ok)
        r = letter.value
        assert DeadLetterKey.of(r.topic, r.reason, r.raw, r.raw_sha256).digest == digest


def test_the_valid_kinds_parse() -> None:
    for kind in ("order moved between customers", "one event_id, two customers"):
        _, records = _cases()[kind]
        assert all(isinstance(_parse(r), Ok) for r in records), kind


def test_reason_kind_of_the_rules_format_is_record_kind_and_rule() -> None:
    assert (
        reason_kind("order_change: amount_scale: total_amount 12.345 has 3 decimals; DECIMAL(12,2) holds 2")
        == "order_change:amount_scale"
    )
    # The details name the reader's clock: replay and the flows read it at different instants.
    assert reason_kind("behavior_event: implausible_time: event_time 9999-01-01 is after 2026-11-29") == (
        reason_kind("behavior_event: implausible_time: event_time 9999-01-01 is after 2026-11-30")
    )


REJECTED = PoisonCase("bad", ("d1",), "rejected", rule="implausible_time")
LETTER = DeadLetterKey("behavior_events", "behavior_event:implausible_time", "d1")
SHARED = PoisonCase("shared", ("d2", "d3"), "decided", decisions=(("p", 7), ("p", 8)))
MOVED = PoisonCase("moved", ("d4", "d5"), "applied", customers=(9, 11))


def _expected(**changes: object) -> Expected:
    base = Expected(
        decisions=frozenset({("p", 7), ("p", 8), ("e", 9), ("e", 11)}),
        final={7: A, 8: A, 9: B, 11: A},
        rejects=frozenset({LETTER}),
        events=5,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _observed(**changes: object) -> Observed:
    base = Observed(
        audit=[
            AuditRow("p", 7, (), {}),
            AuditRow("p", 8, (), {}),
            AuditRow("e", 9, (), {}),
            AuditRow("e", 11, (), {}),
        ],
        rt=[RtMessage(7, 1, A), RtMessage(8, 1, A), RtMessage(9, 1, B), RtMessage(11, 1, A)],
        segments={7: A, 8: A, 9: B, 11: A},
        dead_letters=[LETTER],
        internal_dead_letters=0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _verdicts(expected: Expected, observed: Observed) -> dict[str, CaseVerdict]:
    v = check(expected, observed, {}, (REJECTED, SHARED, MOVED))
    return {c.kind: c for c in v.cases}


def test_a_faithful_poison_row_passes_every_kind() -> None:
    v = check(_expected(), _observed(), {}, (REJECTED, SHARED, MOVED))
    assert v.ok, v.failures
    assert [c.ok for c in v.cases] == [True, True, True]
    assert v.cases[0].replay == v.cases[0].pipeline == "DLQ behavior_event:implausible_time"


def test_a_kind_the_pipeline_did_not_dead_letter_fails_that_kind_only() -> None:
    cases = _verdicts(_expected(), _observed(dead_letters=[]))
    assert not cases["bad"].ok and cases["bad"].pipeline == "no dead letter"
    assert cases["shared"].ok and cases["moved"].ok


def test_a_rejection_under_another_rule_fails() -> None:
    other = DeadLetterKey("behavior_events", "behavior_event:epoch_seconds", "d1")
    assert not _verdicts(_expected(rejects=frozenset({other})), _observed(dead_letters=[other]))["bad"].ok


def test_one_event_id_audited_for_one_customer_only_fails() -> None:
    audit = [r for r in _observed().audit if (r.event_id, r.customer_id) != ("p", 8)]
    cases = _verdicts(_expected(), _observed(audit=audit))
    assert not cases["shared"].ok and cases["shared"].pipeline == "audited once 1/2"


def test_a_moved_order_counted_for_the_old_customer_fails() -> None:
    cases = _verdicts(_expected(), _observed(segments={7: A, 8: A, 9: A, 11: A}))
    assert not cases["moved"].ok and cases["moved"].pipeline == "final decisions as replay's 1/2"
    letter = DeadLetterKey("orders_cdc", "order_change:x", "d4")
    assert not _verdicts(_expected(), _observed(dead_letters=[LETTER, letter]))["moved"].ok


def test_the_table_reports_each_kind_on_its_own_line() -> None:
    v = check(_expected(), _observed(dead_letters=[]), {}, (REJECTED, SHARED, MOVED))
    text = render(
        [
            RowResult("poison", v, None, 5.0, 0),
            RowResult("baseline", Verdict(1, 1, 0, 0, 0, 0, 0), None, 1.0, 0),
        ]
    )
    assert (
        "- poison FAILED: poison bad: replay: DLQ behavior_event:implausible_time; pipeline: no dead letter"
        in text
    )
    lines = [line for line in text.splitlines() if line.startswith("| poison ")]
    assert len(lines) == 4  # the row, then one line per kind
    assert lines[1].endswith("FAIL |") and lines[2].endswith("ok |") and lines[3].endswith("ok |")
