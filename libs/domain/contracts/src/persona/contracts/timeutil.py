"""Time handling shared by every contract.

Internally every instant is an ``int`` of epoch milliseconds (UTC): comparisons and UTC-date arithmetic on
ints are exact and cheap on the per-event path. On the wire we accept ISO-8601 strings that carry an offset
(or ``Z``) and integer epoch millis, and we always emit ISO-8601 UTC with milliseconds and ``Z``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

DAY_MS = 86_400_000
# 9999-12-31T23:59:59.999Z: the last instant an ISO-8601 string (and a Python datetime) can represent.
MAX_EPOCH_MS = 253_402_300_799_999
MAX_TIME_STRING = 64

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_ONE_MS = timedelta(milliseconds=1)


_CANONICAL_LENGTH = len("2026-11-24T04:31:13.123Z")
# "YYYY-MM-DDTHH:MM:SS" of canonical times already parsed -> the epoch millis of that second. Only a
# prefix that fromisoformat accepted (with a "Z" zone) gets here, so a hit needs no more checks.
_PARSED_SECONDS: dict[str, int] = {}
_PARSED_SECONDS_MAX = 4096


def time_to_ms(value: object) -> int:
    """Epoch millis from a wire time: an ISO-8601 string with offset/``Z`` or an integer of epoch millis.

    Raises ``ValueError`` with a reason on anything else. A naive ISO string is rejected rather than assumed
    UTC: guessing the zone would silently shift event dates (and so recency) for producers in other zones.
    """
    if type(value) is int:  # exact type check: JSON true/false decode to bool, which is an int subclass
        if 0 <= value <= MAX_EPOCH_MS:
            return value
        raise ValueError(f"epoch millis out of range: {value}")
    if type(value) is str:
        canonical = len(value) == _CANONICAL_LENGTH and value[19] == "." and value[23] == "Z"
        if canonical:
            # What persona and most producers emit ("2026-11-24T04:31:13.123Z"): the seconds are
            # parsed once per distinct second (as below), the milliseconds are three ASCII digits.
            seconds = _PARSED_SECONDS.get(value[:19])
            digits = value[20:23]
            if seconds is not None and digits.isascii() and digits.isdigit():
                return seconds + int(digits)
        if len(value) > MAX_TIME_STRING:
            raise ValueError(f"time string longer than {MAX_TIME_STRING} characters")
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not an ISO-8601 time: {value!r}") from None
        if dt.tzinfo is None:
            raise ValueError(f"ISO-8601 time without offset or Z: {value!r}")
        # Integer division of timedeltas is exact; dt.timestamp() goes through a float.
        ms = (dt - _EPOCH) // _ONE_MS
        if 0 <= ms <= MAX_EPOCH_MS:
            if canonical:
                if len(_PARSED_SECONDS) >= _PARSED_SECONDS_MAX:
                    _PARSED_SECONDS.clear()
                _PARSED_SECONDS[value[:19]] = ms - ms % 1000
            return ms
        raise ValueError(f"time out of range: {value!r}")
    raise ValueError(f"time must be an ISO-8601 string or integer epoch millis, got {type(value).__name__}")


# Seconds-resolution ISO prefixes of recent instants: every decision formats two times, nearly all of
# them within the same few seconds, and building a datetime for each was a visible per-event cost.
_ISO_SECONDS: dict[int, str] = {}
_ISO_SECONDS_MAX = 4096
# ".000Z" ... ".999Z": a lookup instead of formatting the milliseconds of every time.
_MILLIS_SUFFIX = tuple(f".{m:03d}Z" for m in range(1000))


def ms_to_iso(ms: int) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, e.g. ``2026-11-24T04:31:13.000Z``."""
    seconds, millis = divmod(ms, 1000)
    prefix = _ISO_SECONDS.get(seconds)
    if prefix is None:
        if len(_ISO_SECONDS) >= _ISO_SECONDS_MAX:
            _ISO_SECONDS.clear()
        prefix = _ISO_SECONDS[seconds] = (_EPOCH_NAIVE + timedelta(seconds=seconds)).isoformat(
            timespec="seconds"
        )
    return prefix + _MILLIS_SUFFIX[millis]


def ms_to_datetime(ms: int) -> datetime:
    """An aware UTC datetime (for writers such as pyarrow/Paimon TIMESTAMP(3))."""
    return _EPOCH + timedelta(milliseconds=ms)


def utc_day(ms: int) -> int:
    """Days since 1970-01-01 of the instant's UTC date (floor division, so it is the calendar date)."""
    return ms // DAY_MS


def date_to_day(d: date) -> int:
    """Days since 1970-01-01 of a calendar date (comparable with ``utc_day``)."""
    return d.toordinal() - _EPOCH_ORDINAL
