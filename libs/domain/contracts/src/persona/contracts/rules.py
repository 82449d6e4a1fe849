"""Input rules the parsers apply beyond shape: what parses must also be plausible and writable downstream.

Each rule has a name used at the start of its reject reason (after the record kind), so a dead letter
says which rule it broke, e.g. ``order_change: amount_scale: total_amount 12.345 has 3 decimals;
DECIMAL(12,2) holds 2``:

- ``implausible_time``: an event/order time outside the plausibility window (``TimeWindow``): before
  ``min_ms`` (default 2000-01-01) or more than ``max_ahead_ms`` (default 1 day) after the caller's now.
  A year-9999 ``ts_ms`` would otherwise pin an order's latest version forever (later refunds ignored),
  and a 1970 time would make the customer's recency absurd.
- ``epoch_seconds``: an integer time below 10^11 ms (before 1973-03-03) is, in practice, epoch *seconds*
  sent where epoch millis belong (1764300000 is 2025-11-28 in seconds, 1970-01-21 in millis).
- ``amount_scale``: money with more than 2 decimals. ``total_amount`` and ``monetary`` are
  DECIMAL(12,2) columns; a value they cannot hold exactly would fail the sink's write. Extra decimals
  that are all zeros ("12.3400") are exact and are quantized to 2 places instead.
- ``count_range``: a profile's recency/frequency beyond ``MAX_PROFILE_COUNT``; the effective values the
  decision derives from them (plus days and orders) must still fit the audit's INT columns.

The rules are pure: the window and the instant "now" are passed in; an entry point builds the window
from ``PERSONA_TIME_MIN`` / ``PERSONA_TIME_MAX_AHEAD`` and reads the clock.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import msgspec

from persona.contracts.timeutil import DAY_MS, MAX_EPOCH_MS, ms_to_iso

# 2000-01-01T00:00:00Z
DEFAULT_TIME_MIN_MS: Final = 946_684_800_000
DEFAULT_MAX_AHEAD_MS: Final = DAY_MS
# Integer times below this are read as epoch seconds (10^11 ms is 1973-03-03; 10^11 s is year 5138).
EPOCH_SECONDS_BELOW: Final = 10**11
AMOUNT_DECIMALS: Final = 2
_CENT: Final = Decimal(1).scaleb(-AMOUNT_DECIMALS)
# Profile counts (days, orders) above this cannot be real, and leave the INT32 audit columns room for
# the days and orders a decision adds to them.
MAX_PROFILE_COUNT: Final = 10**9


class RuleViolation(ValueError):
    """A value broke a named rule; the message starts with the rule's name."""


class TimeWindow(msgspec.Struct, frozen=True, gc=False):
    """The plausibility window of event and order times: ``[min_ms, now + max_ahead_ms]``.

    "now" is not part of the window: the caller passes it with each check (a flow reads its clock once
    per polled batch; replay uses the wall clock at replay time, so a replay of history is bounded by
    the same rule the stream applied, never by the history's own instants).
    """

    min_ms: int = DEFAULT_TIME_MIN_MS
    max_ahead_ms: int = DEFAULT_MAX_AHEAD_MS

    def __post_init__(self) -> None:
        if not 0 <= self.min_ms <= MAX_EPOCH_MS or self.max_ahead_ms < 0:
            raise ValueError(f"invalid time window: min_ms={self.min_ms}, max_ahead_ms={self.max_ahead_ms}")

    def check(self, ms: int, field: str, now_ms: int | None) -> int:
        """``ms`` if it lies in the window, else ``RuleViolation``. ``now_ms`` None: no upper bound
        (offline callers without a clock; every flow and replay pass one)."""
        if ms < self.min_ms:
            raise RuleViolation(
                f"implausible_time: {field} {ms_to_iso(ms)} is before {ms_to_iso(self.min_ms)}"
            )
        if now_ms is not None and ms > now_ms + self.max_ahead_ms:
            latest = min(now_ms + self.max_ahead_ms, MAX_EPOCH_MS)
            raise RuleViolation(
                f"implausible_time: {field} {ms_to_iso(ms)} is after {ms_to_iso(latest)}"
                f" (now + {self.max_ahead_ms} ms)"
            )
        return ms


DEFAULT_TIME_WINDOW: Final = TimeWindow()


def check_epoch_millis(value: int, field: str) -> None:
    """Reject an integer wire time that is 0 or negative (implausible) or looks like epoch seconds."""
    if value <= 0:
        raise RuleViolation(f"implausible_time: {field} {value} is not a time after 1970")
    if value < EPOCH_SECONDS_BELOW:
        raise RuleViolation(
            f"epoch_seconds: {field} {value} looks like epoch seconds; times are epoch millis"
        )


def check_amount_scale(value: Decimal, field: str) -> Decimal:
    """``value`` with at most 2 decimals: exact extra zeros are quantized away, others rejected."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= -AMOUNT_DECIMALS:
        return value
    quantized = value.quantize(_CENT)
    if quantized != value:
        raise RuleViolation(
            f"amount_scale: {field} {value} has {-exponent} decimals; DECIMAL(12,{AMOUNT_DECIMALS})"
            f" holds {AMOUNT_DECIMALS}"
        )
    return quantized


def check_profile_count(value: int | None, field: str) -> int | None:
    if value is not None and value > MAX_PROFILE_COUNT:
        raise RuleViolation(f"count_range: {field} {value} exceeds {MAX_PROFILE_COUNT}")
    return value
