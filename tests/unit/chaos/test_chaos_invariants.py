"""The chaos invariants over in-memory records: each one fails when, and only when, it should."""

from __future__ import annotations

import dataclasses

from persona.chaos.invariants import (
    AuditRow,
    DeadLetterKey,
    Expected,
    Observed,
    Outcome,
    RtMessage,
    check,
    newest_versions,
    reason_kind,
    unsellable_entries,
)

STOCK = {"SKU-1": 5, "SKU-2": 0}
A = Outcome("VIP", ("sku:SKU-1",), 0.9)
B = Outcome("REGULAR", (), None)
BAD_LETTER = DeadLetterKey.of("behavior_events", "invalid JSON: unexpected end", b"{")


def _expected() -> Expected:
    return Expected(
        decisions=frozenset({("e1", 1), ("e2", 1), ("e3", 2)}),
        final={1: A, 2: B},
        rejects=frozenset({BAD_LETTER}),
        events=4,
    )


def _observed(**changes: object) -> Observed:
    base = Observed(
        audit=[
            AuditRow("e1", 1, (), {}),
            AuditRow("e2", 1, ("sku:SKU-1",), {"SKU-1": 5}),
            AuditRow("e3", 2, (), {}),
        ],
        rt=[RtMessage(1, 1, B), RtMessage(1, 2, A), RtMessage(2, 1, B)],
        segments={1: A, 2: B},
        dead_letters=[BAD_LETTER],
        internal_dead_letters=0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_a_faithful_run_passes() -> None:
    v = check(_expected(), _observed(), STOCK)
    assert v.ok, v.failures
    assert (v.events, v.decided, v.lost, v.extra, v.duplicated, v.dlq, v.unsellable_promoted) == (
        4,
        3,
        0,
        0,
        0,
        1,
        0,
    )


def test_a_missing_audit_row_is_lost() -> None:
    v = check(_expected(), _observed(audit=_observed().audit[1:]), STOCK)
    assert not v.ok and v.lost == 1 and v.decided == 2


def test_an_audit_row_replay_never_decided_fails() -> None:
    v = check(_expected(), _observed(audit=[*_observed().audit, AuditRow("e9", 3, (), {})]), STOCK)
    assert not v.ok and v.extra == 1


def test_the_same_event_decided_for_another_customer_is_another_decision() -> None:
    v = check(_expected(), _observed(audit=[*_observed().audit, AuditRow("e1", 2, (), {})]), STOCK)
    assert v.extra == 1 and not v.ok


def test_a_resent_version_is_a_duplicate_not_a_failure() -> None:
    rt = [*_observed().rt, RtMessage(1, 1, B), RtMessage(1, 2, A)]
    v = check(_expected(), _observed(rt=rt), STOCK)
    assert v.ok and v.duplicated == 2


def test_a_version_never_sent_is_lost() -> None:
    v = check(_expected(), _observed(rt=[RtMessage(1, 2, A), RtMessage(2, 1, B)]), STOCK)
    assert not v.ok and v.lost == 1


def test_a_final_decision_unlike_replays_fails_in_rt_and_in_paimon() -> None:
    wrong = Outcome("VIP", ("sku:SKU-1",), 0.5)
    v = check(
        _expected(), _observed(rt=[RtMessage(1, 1, B), RtMessage(1, 2, wrong), RtMessage(2, 1, B)]), STOCK
    )
    assert not v.ok and any(f.startswith("rt:") for f in v.failures)
    v = check(_expected(), _observed(segments={1: wrong, 2: B}), STOCK)
    assert not v.ok and any(f.startswith("marketing_segments:") for f in v.failures)


def test_scores_agree_within_a_tolerance() -> None:
    assert A.agrees(Outcome("VIP", ("sku:SKU-1",), 0.9 + 1e-9))
    assert not B.agrees(Outcome("REGULAR", (), 0.0))


def test_dead_letters_are_compared_as_sets_and_internal_ones_fail() -> None:
    assert check(_expected(), _observed(dead_letters=[BAD_LETTER, BAD_LETTER]), STOCK).ok
    other = DeadLetterKey.of("behavior_events", "invalid JSON: x", b"}")
    assert not check(_expected(), _observed(dead_letters=[BAD_LETTER, other]), STOCK).ok
    assert not check(_expected(), _observed(dead_letters=[]), STOCK).ok
    assert not check(_expected(), _observed(internal_dead_letters=1), STOCK).ok


def test_reason_kind_ignores_the_details() -> None:
    kind = reason_kind("behavior_event: JSON is malformed: at byte 3")
    assert (
        kind
        == reason_kind("behavior_event: JSON is malformed: at byte 9")
        == "behavior_event:JSON is malformed"
    )
    assert reason_kind("behavior_event: implausible_time") != reason_kind("behavior_event: epoch_seconds")
    assert DeadLetterKey.of("t", "a: b: 1", b"x") == DeadLetterKey.of("t", "a: b: 2", b"x")


def test_an_unsellable_sku_promoted_anywhere_fails() -> None:
    assert unsellable_entries(["sku:SKU-1", "sku:SKU-2", "sku:SKU-404"], STOCK) == [
        "sku:SKU-2",
        "sku:SKU-404",
    ]
    # In stock by the fixed stock, but the decision saw it unknown (Cassandra down): not promotable.
    assert unsellable_entries(["sku:SKU-1"], STOCK, {"SKU-1": None}) == ["sku:SKU-1"]
    rt = [*_observed().rt, RtMessage(2, 2, Outcome("REGULAR", ("sku:SKU-2",), None))]
    v = check(_expected(), _observed(rt=rt), STOCK)
    assert v.unsellable_promoted == 1 and not v.ok
    audit = [*_observed().audit[:2], AuditRow("e3", 2, ("sku:SKU-1",), {"SKU-1": None})]
    assert check(_expected(), _observed(audit=audit), STOCK).unsellable_promoted == 1


def test_newest_version_wins_whatever_the_read_order() -> None:
    newest = newest_versions([RtMessage(1, 3, A), RtMessage(1, 1, B), RtMessage(1, 2, B)])
    assert newest[1].version == 3 and newest[1].outcome == A
