"""The internal message from the enrich flow to the sink flow (topic ``segment_decisions``).

It carries the typed decision and its audit record with the per-customer version; msgspec encodes
and decodes the typed structs directly (Decimal, date and tuples included), so nothing is re-parsed
by hand on the other side.
"""

from __future__ import annotations

import msgspec

from persona.contracts import Decision, DecisionAudit


class DecisionEnvelope(msgspec.Struct, frozen=True, gc=False):
    version: int
    decision: Decision
    audit: DecisionAudit


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(DecisionEnvelope)


def encode_envelope(envelope: DecisionEnvelope) -> bytes:
    return _encoder.encode(envelope)


def decode_envelope(raw: bytes) -> DecisionEnvelope:
    """Raises ``msgspec.DecodeError`` / ``ValidationError`` on a malformed message."""
    return _decoder.decode(raw)
