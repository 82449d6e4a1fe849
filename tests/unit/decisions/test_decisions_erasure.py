"""The rule that keeps an erased customer erased (persona.decisions.erasure, docs/erasure.md)."""

from __future__ import annotations

from persona.decisions import is_erased_past

ERASED_AT = 1_795_000_000_000


def test_a_customer_never_erased_has_no_erased_past() -> None:
    assert not is_erased_past(None, 0)
    assert not is_erased_past(None, ERASED_AT)


def test_records_at_or_before_the_erasure_are_the_erased_past() -> None:
    assert is_erased_past(ERASED_AT, ERASED_AT - 86_400_000)  # a replay of yesterday's event
    assert is_erased_past(ERASED_AT, ERASED_AT)  # the same millisecond: still the past


def test_a_record_after_the_erasure_is_a_comeback() -> None:
    assert not is_erased_past(ERASED_AT, ERASED_AT + 1)
