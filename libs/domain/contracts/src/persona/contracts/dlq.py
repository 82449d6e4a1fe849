"""Dead-letter records (``<topic>.dlq``): why a record was rejected and its original bytes, bounded.

A dead letter must always be producible, or the record that caused it stops the flow: Kafka refuses a
message above the topic's ``max.message.bytes`` (default 1 MiB), and a hostile record's escaped bytes
can be six times its size (every control byte becomes ``\\u00XX``). So ``dlq_record_to_json`` measures
what it encodes and always returns at most ``max_bytes`` (default ``DLQ_MAX_BYTES``, 900 KiB: 1 MiB
less room for the key and Kafka's record overhead):

1. the original bytes as text when they are UTF-8 and the JSON fits;
2. else base64 (``raw_base64``) when that fits — 4/3 of the size, however hostile the bytes;
3. else a base64 prefix that fits, flagged ``raw_truncated``.

Every record carries ``raw_length`` (the original length) and ``raw_sha256`` (hex SHA-256 of the
original bytes), so a truncated record still identifies its input. ``reason`` is cut at
``DLQ_MAX_REASON_CHARS``. ``parse_dlq_record`` reads these records and those written before
``raw_length``/``raw_sha256`` existed.
"""

from __future__ import annotations

import base64
from hashlib import sha256
from typing import Annotated, Final

import msgspec
from msgspec import Meta

from persona.contracts.records import DlqRecord
from persona.contracts.result import Err, Ok, ParseResult
from persona.contracts.timeutil import MAX_TIME_STRING, ms_to_iso, time_to_ms

DLQ_MAX_BYTES: Final = 900 * 1024
DLQ_MAX_REASON_CHARS: Final = 2000
MAX_TOPIC_CHARS: Final = 255  # Kafka allows 249
_CUT_MARK: Final = "...(cut)"
# Below this the fixed fields (topic, reason, hash, time) may not fit; no caller needs less.
_MIN_MAX_BYTES: Final = 16 * 1024

_ENCODER: Final = msgspec.json.Encoder()


class _DlqOut(msgspec.Struct, gc=False):
    topic: str
    reason: str
    raw: str
    raw_base64: bool
    raw_truncated: bool
    raw_length: int
    raw_sha256: str
    failed_at: str


class _DlqWire(msgspec.Struct):
    topic: Annotated[str, Meta(min_length=1, max_length=MAX_TOPIC_CHARS)]
    reason: str
    raw: str
    raw_base64: bool
    failed_at: Annotated[str, Meta(max_length=MAX_TIME_STRING)] | int
    raw_truncated: bool = False
    # Since issue 17; absent in older records.
    raw_length: Annotated[int, Meta(ge=0)] | None = None
    raw_sha256: Annotated[str, Meta(min_length=64, max_length=64)] | None = None


_DLQ_DECODER: Final = msgspec.json.Decoder(_DlqWire)


def _bounded_text(value: str, limit: int) -> str:
    if len(value) > limit:
        value = value[:limit] + _CUT_MARK
    # A lone surrogate (from an exception message, say) cannot be encoded as UTF-8: spell it out.
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def dlq_record_to_json(
    topic: str, reason: str, raw: bytes, failed_at_ms: int, max_bytes: int = DLQ_MAX_BYTES
) -> bytes:
    """A dead-letter record of at most ``max_bytes``: ``{"topic", "reason", "raw", "raw_base64",
    "raw_truncated", "raw_length", "raw_sha256", "failed_at"}`` (see the module for how ``raw`` fits)."""
    if max_bytes < _MIN_MAX_BYTES:
        raise ValueError(f"max_bytes must be at least {_MIN_MAX_BYTES}, got {max_bytes}")
    raw = bytes(raw)
    topic = _bounded_text(topic, MAX_TOPIC_CHARS)
    reason = _bounded_text(reason, DLQ_MAX_REASON_CHARS)
    digest = sha256(raw).hexdigest()
    failed_at = ms_to_iso(failed_at_ms)

    def encode(text: str, is_b64: bool, truncated: bool) -> bytes:
        return _ENCODER.encode(_DlqOut(topic, reason, text, is_b64, truncated, len(raw), digest, failed_at))

    # The size of everything but the raw text ("false" is the longer boolean).
    budget = max_bytes - len(encode("", False, False))
    if len(raw) <= budget:  # UTF-8 text is at least as long as its bytes: larger cannot fit
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            out = encode(text, False, False)
            if len(out) <= max_bytes:
                return out
    if (len(raw) + 2) // 3 * 4 <= budget:
        return encode(base64.b64encode(raw).decode("ascii"), True, False)
    prefix = raw[: budget // 4 * 3]
    return encode(base64.b64encode(prefix).decode("ascii"), True, True)


def parse_dlq_record(raw: bytes | bytearray | memoryview) -> ParseResult[DlqRecord]:
    """A dead-letter record written by ``dlq_record_to_json`` (or before issue 17, without
    ``raw_length``/``raw_sha256``); ``raw`` is restored to the original bytes (their prefix when
    ``raw_truncated``). A complete ``raw`` whose hash is not ``raw_sha256`` is an ``Err``."""
    try:
        w = _DLQ_DECODER.decode(raw)
        original = base64.b64decode(w.raw, validate=True) if w.raw_base64 else w.raw.encode()
        failed_at_ms = time_to_ms(w.failed_at)
        if w.raw_sha256 is not None and not w.raw_truncated and sha256(original).hexdigest() != w.raw_sha256:
            raise ValueError("raw_sha256 does not match raw")
    except (msgspec.DecodeError, ValueError) as e:  # binascii.Error (bad base64) is a ValueError too
        return Err(f"dlq_record: {e}", bytes(raw))
    return Ok(
        DlqRecord(
            w.topic,
            w.reason,
            original,
            failed_at_ms,
            w.raw_truncated,
            len(original) if w.raw_length is None else w.raw_length,
            w.raw_sha256,
        )
    )
