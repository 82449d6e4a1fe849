"""The GDPR erasure request (topic ``erasures``, and the marker the enrich flow relays to the sink).

``persona erase CUSTOMER_ID --reason R`` writes one request, keyed by the customer id, to the
``erasures`` topic. The enrich flow applies it to the customer's state, writes the tombstone to
``marketing_segments_rt`` and relays the same JSON on ``segment_decisions`` (after the customer's
earlier decisions, in the same partition), where the sink deletes the customer's rows from the Paimon
tables and records the erasure in the ``erasures`` table (docs/erasure.md).

A request holds no personal data but the customer id: who asked (an operator or system name), why
(free text, which must not hold personal data either: it is kept for good), when, and the id of the
request. ``requested_at`` is the instant the rule of ``persona.decisions.erasure`` compares records with.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec
from msgspec import Meta

from persona.contracts.parsing import INT64_MAX, RawBytes
from persona.contracts.result import Err, Ok, ParseResult
from persona.contracts.rules import DEFAULT_TIME_WINDOW, TimeWindow
from persona.contracts.timeutil import MAX_TIME_STRING, ms_to_iso, time_to_ms

MAX_ERASURE_BYTES: Final = 8 * 1024
MAX_REASON_CHARS: Final = 1000
MAX_ACTOR_CHARS: Final = 256

ERASURE_MARKER: Final = b"{"
"""How the sink tells a relayed erasure (a JSON object) from a decisions message (a msgpack array,
whose first byte is never ``{``) on ``segment_decisions``."""


class ErasureRequest(msgspec.Struct, frozen=True, gc=False):
    """One customer's erasure: ``erasure_id`` identifies the request (the ``erasures`` table's key)."""

    erasure_id: str
    customer_id: int
    reason: str
    requested_by: str
    requested_at_ms: int


class _WireErasure(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    erasure_id: Annotated[str, Meta(min_length=1, max_length=MAX_ACTOR_CHARS)]
    customer_id: Annotated[int, Meta(ge=1, le=INT64_MAX)]
    reason: Annotated[str, Meta(min_length=1, max_length=MAX_REASON_CHARS)]
    requested_by: Annotated[str, Meta(min_length=1, max_length=MAX_ACTOR_CHARS)]
    requested_at: Annotated[str, Meta(max_length=MAX_TIME_STRING)] | int


_decoder = msgspec.json.Decoder(_WireErasure)
_encoder = msgspec.json.Encoder()


def parse_erasure_request(
    raw: RawBytes, window: TimeWindow = DEFAULT_TIME_WINDOW, now_ms: int | None = None
) -> ParseResult[ErasureRequest]:
    """An ``erasures`` record; ``requested_at`` obeys the time rules as every input time does."""
    if len(raw) > MAX_ERASURE_BYTES:
        return Err(f"erasure: record of {len(raw)} bytes exceeds {MAX_ERASURE_BYTES}", bytes(raw))
    try:
        w = _decoder.decode(raw)
        requested_at_ms = window.check(time_to_ms(w.requested_at), "requested_at", now_ms)
    except (msgspec.DecodeError, ValueError, ArithmeticError) as e:
        return Err(f"erasure: {e}", bytes(raw))
    return Ok(ErasureRequest(w.erasure_id, w.customer_id, w.reason, w.requested_by, requested_at_ms))


def erasure_to_json(request: ErasureRequest) -> bytes:
    return _encoder.encode(
        {
            "erasure_id": request.erasure_id,
            "customer_id": request.customer_id,
            "reason": request.reason,
            "requested_by": request.requested_by,
            "requested_at": ms_to_iso(request.requested_at_ms),
        }
    )
