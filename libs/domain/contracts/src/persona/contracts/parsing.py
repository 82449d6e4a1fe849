"""Parsers from raw Kafka values / JSON lines (``bytes``) to typed records.

Every parser returns ``Ok(record)`` or ``Err(reason, raw)`` and never raises on bad input, so a flow can
route failures to ``<topic>.dlq`` and keep going (DESIGN §3). Decoding is typed (msgspec) because it is
~4x faster than JSON-to-dict plus hand validation and it is strict where we need it: JSON ``true`` is not an
int and ``1.0`` is not an int.

Limits against absurd input: a record is at most ``MAX_RECORD_BYTES``; identifiers and labels have length
caps; ids are positive BIGINTs; quantities are non-negative BIGINTs. Event and order times obey the named
rules of ``persona.contracts.rules`` (``implausible_time`` outside the caller's ``TimeWindow``,
``epoch_seconds``): the parsers take the window and the caller's "now" (``now_ms``; None: no upper bound).
Money (``total_amount``, ``monetary``) is accepted as a decimal string *or* a JSON number: Debezium emits a
string with ``decimal.handling.mode=string`` and a number with ``=double``; msgspec keeps the number's
decimal text, so no binary-float rounding happens. It must be finite, >= 0, below ``MAX_AMOUNT`` and
have at most 2 decimals (``amount_scale``): whatever parses can be written to its DECIMAL(12,2) column.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from sys import intern
from typing import Annotated, Final, TypeAlias

import msgspec
from msgspec import Meta

from persona.contracts.records import (
    ORDER_OPS,
    ORDER_STATUSES,
    BehaviorEvent,
    CustomerProfile,
    Decision,
    DecisionMessage,
    InventoryRow,
    OrderFact,
)
from persona.contracts.result import Err, Ok, ParseResult
from persona.contracts.rules import (
    DEFAULT_TIME_WINDOW,
    TimeWindow,
    check_amount_scale,
    check_epoch_millis,
    check_profile_count,
)
from persona.contracts.timeutil import MAX_TIME_STRING, time_to_ms

MAX_RECORD_BYTES: Final = 1024 * 1024
RawBytes: TypeAlias = bytes | bytearray | memoryview
"""What the parsers take: a Kafka value or a file line, without copying it first."""
MAX_ID_CHARS: Final = 256  # event_id, sku_id, session_id, channel
MAX_LABEL_CHARS: Final = 64  # event_type, segment, lifecycle_stage, status, logic_version
MAX_CURRENCY_CHARS: Final = 16
MAX_RECOMMENDATIONS: Final = 1000
INT64_MAX: Final = 2**63 - 1
INT32_MAX: Final = 2**31 - 1
# DECIMAL(12,2) holds < 10^10; anything at or above it cannot be stored in `monetary` anyway.
MAX_AMOUNT: Final = Decimal(10) ** 10

_PositiveId = Annotated[int, Meta(ge=1, le=INT64_MAX)]
_Qty = Annotated[int, Meta(ge=0, le=INT64_MAX)]
_Count = Annotated[int, Meta(ge=0, le=INT32_MAX)]  # then bounded by MAX_PROFILE_COUNT
_IdStr = Annotated[str, Meta(min_length=1, max_length=MAX_ID_CHARS)]
_OptIdStr = Annotated[str, Meta(max_length=MAX_ID_CHARS)] | None
_Label = Annotated[str, Meta(min_length=1, max_length=MAX_LABEL_CHARS)]
_WireTime = Annotated[str, Meta(max_length=MAX_TIME_STRING)] | int


class _Reject(ValueError):
    """Internal: a semantic check failed (the reason is the message). Never escapes a parser."""


# Everything bad input can raise while decoding: malformed JSON and schema mismatches (DecodeError and
# its ValidationError), invalid UTF-8 inside a string (UnicodeDecodeError, a ValueError), our own checks
# (_Reject), nesting deep enough to exhaust the decoder's recursion limit, Decimal edge cases.
_BAD_INPUT = (msgspec.DecodeError, ValueError, RecursionError, ArithmeticError)


# --- wire shapes (private): what the JSON must look like; public records are built from them ---------


class _EventWire(msgspec.Struct):
    event_id: _IdStr
    user_id: _PositiveId
    event_type: _Label
    event_time: _WireTime
    sku_id: _OptIdStr = None
    session_id: _OptIdStr = None
    channel: _OptIdStr = None


class _OrderRowWire(msgspec.Struct):
    order_id: _PositiveId
    customer_id: _PositiveId
    status: _Label
    total_amount: Decimal
    currency: Annotated[str, Meta(min_length=1, max_length=MAX_CURRENCY_CHARS)]
    order_time: _WireTime
    updated_at: _WireTime


class _EnvelopeWire(msgspec.Struct):
    op: Annotated[str, Meta(max_length=8)] | None = None
    ts_ms: int | None = None
    before: _OrderRowWire | None = None
    after: _OrderRowWire | None = None
    # Kafka Connect's JsonConverter with schemas.enable=true wraps the envelope: {"schema":..,"payload":..}.
    payload: _EnvelopeWire | None = None


class _InventoryWire(msgspec.Struct):
    sku_id: _IdStr
    available_qty: _Qty
    reserved_qty: _Qty
    updated_at: _WireTime | None = None


class _ProfileWire(msgspec.Struct):
    customer_id: _PositiveId
    segment: _Label | None
    recency: _Count | None
    frequency: _Count | None
    monetary: Decimal | None
    rfm_as_of: Annotated[str, Meta(max_length=10)]
    lifecycle_stage: _Label | None = None
    snapshot: _OptIdStr = None


class _DecisionWire(msgspec.Struct):
    customer_id: _PositiveId
    segment: _Label
    recommendation: Annotated[list[_IdStr], Meta(max_length=MAX_RECOMMENDATIONS)]
    score: float | None
    updated_at: _WireTime
    event_time: _WireTime
    logic_version: _Label
    version: Annotated[int, Meta(ge=0, le=INT64_MAX)]
    channel_preference: _Label | None = None


_EVENT_DECODER: Final = msgspec.json.Decoder(_EventWire)
_ENVELOPE_DECODER: Final = msgspec.json.Decoder(_EnvelopeWire)
_INVENTORY_DECODER: Final = msgspec.json.Decoder(_InventoryWire)
_PROFILE_DECODER: Final = msgspec.json.Decoder(_ProfileWire)
_DECISION_DECODER: Final = msgspec.json.Decoder(_DecisionWire)


# --- field checks ---------------------------------------------------------------------------------------


def _any_time(value: object, field: str) -> int:
    """A wire time in years 1970..9999, no plausibility rule (persona's own records: decisions, DLQ)."""
    try:
        return time_to_ms(value)
    except ValueError as e:
        raise _Reject(f"{field}: {e}") from None


def _time(value: object, field: str, window: TimeWindow, now_ms: int | None) -> int:
    """An input time (event, order, inventory): well-formed, then the epoch_seconds and
    implausible_time rules (their ``RuleViolation`` carries the rule's name)."""
    if type(value) is int:
        check_epoch_millis(value, field)
    return window.check(_any_time(value, field), field, now_ms)


def _amount(value: Decimal, field: str) -> Decimal:
    if not value.is_finite():
        raise _Reject(f"{field}: not a finite decimal: {value}")
    if value < 0:
        raise _Reject(f"{field}: negative amount {value}")
    if value >= MAX_AMOUNT:
        raise _Reject(f"{field}: amount {value} >= {MAX_AMOUNT}")
    value = check_amount_scale(value, field)
    # "-0.00" is zero; normalise the sign so it serializes as "0.00".
    return value.copy_abs() if value == 0 else value


def _too_large(raw: RawBytes, what: str) -> Err | None:
    if len(raw) > MAX_RECORD_BYTES:
        return Err(f"{what}: record of {len(raw)} bytes exceeds {MAX_RECORD_BYTES}", bytes(raw))
    return None


def _decode_error(what: str, e: Exception, raw: RawBytes) -> Err:
    return Err(f"{what}: {e}", bytes(raw))


# --- parsers --------------------------------------------------------------------------------------------


def parse_behavior_event(
    raw: RawBytes, window: TimeWindow = DEFAULT_TIME_WINDOW, now_ms: int | None = None
) -> ParseResult[BehaviorEvent]:
    """A `behavior_events` value. ``sku_id``, ``session_id``, ``channel`` may be absent (= null).

    An empty ``sku_id`` string is normalized to null: trackers send "" for "no product", and promoting
    ``"sku:"`` would be nonsense, but the event itself is still a valid behaviour signal.
    """
    if (too_large := _too_large(raw, "behavior_event")) is not None:
        return too_large
    try:
        w = _EVENT_DECODER.decode(raw)
        event_time_ms = _time(w.event_time, "event_time", window, now_ms)
    except _BAD_INPUT as e:
        return _decode_error("behavior_event", e, raw)
    # Positional (field order), as once per event msgspec's keyword matching cost more than the rest.
    # The SKU, type and channel strings are interned: the enrich flow keeps each customer's last ~20
    # SKUs (and last event) for its life, and decoded strings are new objects per event, so 1M
    # customers held ~15M copies of ~100k SKU ids, scattered across the heap that every snapshot walks.
    # Interned strings are freed with their last reference, so odd input cannot grow the table.
    sku_id = w.sku_id
    channel = w.channel
    return Ok(
        BehaviorEvent(
            w.event_id,
            w.user_id,
            intern(w.event_type),
            intern(sku_id) if sku_id else None,  # "" -> None
            event_time_ms,
            w.session_id,
            intern(channel) if channel else channel,
        )
    )


def _order_fact(
    row: _OrderRowWire,
    op: str,
    ts_ms: int,
    deleted: bool,
    window: TimeWindow,
    now_ms: int | None,
    image: str = "",
) -> OrderFact:
    if row.status not in ORDER_STATUSES:
        raise _Reject(f"{image}unknown order status {row.status!r}")
    return OrderFact(
        order_id=row.order_id,
        customer_id=row.customer_id,
        status=row.status,
        total_amount=_amount(row.total_amount, image + "total_amount"),
        currency=row.currency,
        order_time_ms=_time(row.order_time, image + "order_time", window, now_ms),
        updated_at_ms=_time(row.updated_at, image + "updated_at", window, now_ms),
        op=op,
        ts_ms=ts_ms,
        deleted=deleted,
    )


def parse_order_changes(
    raw: RawBytes, window: TimeWindow = DEFAULT_TIME_WINDOW, now_ms: int | None = None
) -> ParseResult[tuple[OrderFact, ...]]:
    """The order facts of a Debezium `orders_cdc` envelope, in the order to apply them.

    ``c``/``u``/``r`` give the ``after`` row, ``d`` the ``before`` row (``deleted``). An update that
    moves the order to another customer (``before.customer_id != after.customer_id``) gives two facts:
    first a retraction for the old customer — the ``before`` row as a delete (op ``d``) at the change's
    ``ts_ms``, which supersedes that customer's version of the order (``persona.decisions.state``
    orders changes by ts_ms, then updated_at, and a delete wins a full tie) — then the ``after`` row
    for the new customer. So the order stops counting for the old customer and counts for the new one,
    with no state shared between them (the cdc flow and replay both use this function).

    Kafka tombstones (null value after a delete) are not records: callers skip ``None`` values before
    calling this; ``b""`` is an ``Err`` like any other unparseable input.
    """
    if (too_large := _too_large(raw, "order_change")) is not None:
        return too_large
    try:
        w = _ENVELOPE_DECODER.decode(raw)
        if w.op is None and w.payload is not None:
            w = w.payload
        if w.op is None:
            raise _Reject("missing op")
        if w.op not in ORDER_OPS:
            raise _Reject(f"unknown op {w.op!r}")
        if w.ts_ms is None:
            raise _Reject("missing ts_ms")
        ts_ms = _time(w.ts_ms, "ts_ms", window, now_ms)
        if w.op == "d":
            if w.before is None:
                raise _Reject("op 'd' without a before row")
            return Ok((_order_fact(w.before, w.op, ts_ms, True, window, now_ms),))
        if w.after is None:
            raise _Reject(f"op {w.op!r} without an after row")
        after = _order_fact(w.after, w.op, ts_ms, False, window, now_ms)
        before = w.before
        if w.op != "u" or before is None or before.customer_id == after.customer_id:
            return Ok((after,))
        if before.order_id != after.order_id:
            raise _Reject(f"update changes order_id {before.order_id} to {after.order_id}")
        retraction = _order_fact(before, "d", ts_ms, True, window, now_ms, image="before.")
        return Ok((retraction, after))
    except _BAD_INPUT as e:
        return _decode_error("order_change", e, raw)


def parse_order_change(
    raw: RawBytes, window: TimeWindow = DEFAULT_TIME_WINDOW, now_ms: int | None = None
) -> ParseResult[OrderFact]:
    """The fact of one order change: ``parse_order_changes`` without the retraction of a moved order
    (the last fact, the change's own row). For records that are already one fact each, such as the
    cdc flow's ``order_facts``."""
    result = parse_order_changes(raw, window, now_ms)
    if isinstance(result, Err):
        return result
    return Ok(result.value[-1])


def parse_inventory_row(
    raw: RawBytes, window: TimeWindow = DEFAULT_TIME_WINDOW, now_ms: int | None = None
) -> ParseResult[InventoryRow]:
    """An `inventory_projection` row / `inventory_changes` message. Negative quantities are rejected;
    ``updated_at``, when present, obeys the time rules (it orders a SKU's rows in replay)."""
    if (too_large := _too_large(raw, "inventory_row")) is not None:
        return too_large
    try:
        w = _INVENTORY_DECODER.decode(raw)
        updated_at_ms = None if w.updated_at is None else _time(w.updated_at, "updated_at", window, now_ms)
    except _BAD_INPUT as e:
        return _decode_error("inventory_row", e, raw)
    return Ok(InventoryRow(w.sku_id, w.available_qty, w.reserved_qty, updated_at_ms))


def _rfm_date(value: str) -> date:
    # Strictly YYYY-MM-DD: date.fromisoformat also takes "20261120" and week dates, which a DATE column
    # rendered to JSON never produces, so they signal a broken producer.
    if len(value) != 10 or value[4] != "-" or value[7] != "-":
        raise _Reject(f"rfm_as_of: expected YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _Reject(f"rfm_as_of: invalid date {value!r}") from None


def parse_customer_profile(raw: RawBytes) -> ParseResult[CustomerProfile]:
    """A `customer_profile` row as JSON: monetary decimal string (or number), rfm_as_of ``YYYY-MM-DD``."""
    if (too_large := _too_large(raw, "customer_profile")) is not None:
        return too_large
    try:
        w = _PROFILE_DECODER.decode(raw)
        monetary = None if w.monetary is None else _amount(w.monetary, "monetary")
        check_profile_count(w.recency, "recency")
        check_profile_count(w.frequency, "frequency")
        rfm_as_of = _rfm_date(w.rfm_as_of)
    except _BAD_INPUT as e:
        return _decode_error("customer_profile", e, raw)
    return Ok(
        CustomerProfile(
            customer_id=w.customer_id,
            segment=w.segment,
            recency=w.recency,
            frequency=w.frequency,
            monetary=monetary,
            lifecycle_stage=w.lifecycle_stage,
            rfm_as_of=rfm_as_of,
            snapshot=w.snapshot,
        )
    )


def parse_decision_message(raw: RawBytes) -> ParseResult[DecisionMessage]:
    """A `marketing_segments_rt` JSON value (the row plus ``version``), for consumers and tests."""
    if (too_large := _too_large(raw, "decision")) is not None:
        return too_large
    try:
        w = _DECISION_DECODER.decode(raw)
        decision = Decision(
            customer_id=w.customer_id,
            segment=w.segment,
            recommendation=tuple(w.recommendation),
            score=w.score,
            updated_at_ms=_any_time(w.updated_at, "updated_at"),
            event_time_ms=_any_time(w.event_time, "event_time"),
            logic_version=w.logic_version,
            channel_preference=w.channel_preference,
        )
    except _BAD_INPUT as e:
        return _decode_error("decision", e, raw)
    return Ok(DecisionMessage(decision, w.version))
