"""What an enrich shard keeps per customer, and how it is stored: the Bytewax snapshot of a shard
(``ShardSnapshot``) and the records of its customer log (``customer_log``).

Both are msgpack: msgspec encodes a shard many times faster than pickle walks it, and Bytewax then
pickles one ``bytes``. State in a shape this version cannot decode stops the flow with an error that
says so, never a half-read shard.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import msgspec

from persona.contracts import BehaviorEvent
from persona.decisions import EMPTY_STATE, CustomerState, Offered, PendingDecision
from persona.flows.enrich.chunk_file import RECOVERY, CustomerLogError, read_chunks
from persona.flows.enrich.customer_log import LogRef


class EnrichState(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """Per customer: decision state, last version handed out, last decided event (re-decisions), and
    the instant the customer was erased, if ever (``persona.decisions.erasure``).

    ``erased_at_ms`` is last and defaults to None: records written before it existed decode unchanged.
    An erased customer's record holds nothing else but its version counter."""

    customer: CustomerState = EMPTY_STATE
    version: int = 0
    last_event: BehaviorEvent | None = None
    erased_at_ms: int | None = None


EMPTY = EnrichState()
"""A customer the shard has not seen; shared, as states are never mutated."""

Customers = dict[int, EnrichState]

LogRecord = tuple[EnrichState, tuple[str, ...]]
"""A customer's record in the customer log: its state and its offer (``Offered``; empty: none)."""


class ShardState(msgspec.Struct, gc=False, array_like=True):
    customers: Customers
    offered: Offered
    # events observed (their versions handed out) whose decision waits for inventory reads, in order
    waiting: list[PendingDecision] = msgspec.field(default_factory=list)


_state_encoder = msgspec.msgpack.Encoder()
_state_decoder = msgspec.msgpack.Decoder(ShardState)
# One chunk of a shard's customer log: customer ids, then their records in the same order.
_log_decoder = msgspec.msgpack.Decoder(tuple[list[int], list[LogRecord]])

_FORMAT_ERROR = (
    "the recovery store holds enrich state in a format this version cannot read ({error}); it was "
    "written by another persona version. Resume with that version, or remove the enrich flow's "
    "recovery directory to start it without state"
)


@dataclass(frozen=True)
class ShardSnapshot:
    """What Bytewax recovery stores per shard.

    With a customer log (``PERSONA_ENRICH_STATE_DIR``, which ``persona demo``/``bench`` and the
    runner set), ``log`` names the files that hold the shard's customers and ``state`` holds only the
    decisions waiting for inventory reads: a snapshot costs what changed since the last one, written
    while it changed (``customer_log``). Without one, ``state`` holds every customer, encoded at the
    snapshot. The per-SKU offer index is derived from ``offered`` on restore.
    """

    shards: int
    state: bytes
    log: LogRef | None = None

    @classmethod
    def of(
        cls,
        shards: int,
        customers: Customers,
        offered: Offered,
        waiting: list[PendingDecision],
        log: LogRef | None = None,
    ) -> ShardSnapshot:
        return cls(shards, _state_encoder.encode(ShardState(customers, offered, waiting)), log)

    def decode(self) -> ShardState:
        try:
            return _state_decoder.decode(self.state)
        except msgspec.ValidationError as error:
            raise RuntimeError(_FORMAT_ERROR.format(error=error)) from error


_record_decoder = msgspec.msgpack.Decoder(LogRecord)


def encode_record(state: EnrichState, offer: tuple[str, ...]) -> bytes:
    """One customer's record as the customer log stores it (an evicted customer's, on disk)."""
    return _state_encoder.encode((state, offer))


def decode_record(raw: bytes) -> LogRecord:
    record: LogRecord = _record_decoder.decode(raw)
    return record


def log_records(ids: list[int], customers: Customers, offered: Offered) -> list[LogRecord]:
    """The customer log records of customers ``ids``, in that order."""
    return [(customers[c], offered.get(c, ())) for c in ids]


def load_customer_log(paths: list[Path], customers: Customers, offered: Offered) -> None:
    """Replay a shard's files, oldest first, into ``customers`` and ``offered``."""
    for path in paths:
        for chunk in read_chunks(path):
            try:
                ids, records = _log_decoder.decode(chunk)
            except msgspec.ValidationError as error:
                raise RuntimeError(_FORMAT_ERROR.format(error=f"{path}: {error}")) from error
            except msgspec.DecodeError as error:
                raise CustomerLogError(f"{path} holds a damaged chunk: {error}. {RECOVERY}") from error
            for customer_id, (state, recommendation) in zip(ids, records, strict=True):
                customers[customer_id] = state
                if recommendation:
                    offered[customer_id] = recommendation
                else:
                    offered.pop(customer_id, None)
