"""The internal message from the enrich flow to the sink flow (topic ``segment_decisions``).

A message is a msgpack array of ``DecisionEnvelope`` (an audit record and the per-customer
version): one message per shard and polled batch (at most ``ROWS_PER_MESSAGE``),
keyed by the shard, so a customer's decisions stay in order. msgpack, one message per batch: the
enrich flow is the pipeline's single-threaded bound, and this is its cheapest encoding (JSON per
decision, or Arrow columns built there, cost it more). The sink decodes a message in one call and
builds its Paimon rows from it (``persona.flows.sink.rows``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import msgspec

from persona.contracts.records import DecisionAudit

# Kafka's default message size limit is 1 MB; a typical decision is ~700 bytes in msgpack.
ROWS_PER_MESSAGE = 1000
# A message larger than this is split (it stays under the producer's 1,000,000-byte and the broker's
# 1 MiB limits): decisions with long ids and many candidates are several times the typical size, and a
# message Kafka refused would be dead-lettered whole, valid decisions and all.
MAX_MESSAGE_BYTES = 900 * 1024


class DecisionEnvelope(msgspec.Struct, frozen=True, gc=False):
    """One decision for the sink: its audit record holds every column of both Paimon tables.

    Messages that also carry a ``decision`` key (an older enrich flow's) still decode: structs are
    msgpack maps with field names, and unknown keys are skipped.
    """

    version: int
    audit: DecisionAudit


class DecisionsDecodeError(ValueError):
    """A ``segment_decisions`` message that is not a msgpack array of decisions."""


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[DecisionEnvelope])


def encode_decisions(envs: Sequence[DecisionEnvelope]) -> Iterator[bytes]:
    """The ``segment_decisions`` messages of ``envs``, in order: at most ``ROWS_PER_MESSAGE`` each,
    and halved until each is at most ``MAX_MESSAGE_BYTES`` (a single decision is far below it: the
    parsers bound every id and list it holds)."""
    for start in range(0, len(envs), ROWS_PER_MESSAGE):
        yield from _encode_fitting(envs[start : start + ROWS_PER_MESSAGE])


def _encode_fitting(envs: Sequence[DecisionEnvelope]) -> Iterator[bytes]:
    message = _encoder.encode(envs)
    if len(message) <= MAX_MESSAGE_BYTES or len(envs) == 1:
        yield message
        return
    half = len(envs) // 2
    yield from _encode_fitting(envs[:half])
    yield from _encode_fitting(envs[half:])


def decode_decisions(raw: bytes) -> list[DecisionEnvelope]:
    """The decisions of one ``segment_decisions`` message; ``DecisionsDecodeError`` says why one is bad."""
    try:
        return _decoder.decode(raw)
    except msgspec.DecodeError as error:  # ValidationError included
        raise DecisionsDecodeError(f"not a msgpack array of decisions: {error}") from None
