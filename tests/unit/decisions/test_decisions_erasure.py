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


def test_a_profile_as_of_a_day_ending_by_the_erasure_is_the_erased_past() -> None:
    from datetime import date

    from persona.decisions import profile_is_erased_past

    erased_at = 1_795_168_810_000  # 2026-11-20T10:00:10Z
    assert not profile_is_erased_past(None, date(2026, 11, 19))
    assert profile_is_erased_past(erased_at, date(2026, 11, 19))  # the profile held in memory
    # As of the erasure's own day: it may hold orders of that day after the erasure, so it is not the
    # past; as of a later day it is the comeback's (the CRM still holds or holds again the customer).
    assert not profile_is_erased_past(erased_at, date(2026, 11, 20))
    assert not profile_is_erased_past(erased_at, date(2026, 11, 21))
