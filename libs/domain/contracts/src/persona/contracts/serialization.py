"""Serialization of every record to JSON bytes (UTF-8), times as ISO-8601 UTC with milliseconds and ``Z``.

The ``*_to_dict`` functions return the JSON-ready mapping (contract field names, ISO strings, money as
decimal strings) for writers that want columns rather than bytes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

import msgspec

from persona.contracts.records import (
    BehaviorEvent,
    CustomerProfile,
    Decision,
    DecisionAudit,
    InventoryRow,
    OrderFact,
)
from persona.contracts.timeutil import ms_to_iso

_ENCODER: Final = msgspec.json.Encoder()


def _money(value: Decimal | None) -> str | None:
    # Plain notation always ("100000", never "1E+5"), so every reader can parse it as a decimal string.
    return None if value is None else format(value, "f")


def behavior_event_to_dict(e: BehaviorEvent) -> dict[str, Any]:
    return {
        "event_id": e.event_id,
        "user_id": e.user_id,
        "event_type": e.event_type,
        "sku_id": e.sku_id,
        "event_time": ms_to_iso(e.event_time_ms),
        "session_id": e.session_id,
        "channel": e.channel,
    }


def behavior_event_to_json(e: BehaviorEvent) -> bytes:
    return _ENCODER.encode(behavior_event_to_dict(e))


def _order_row(f: OrderFact) -> dict[str, Any]:
    return {
        "order_id": f.order_id,
        "customer_id": f.customer_id,
        "status": f.status,
        "total_amount": _money(f.total_amount),
        "currency": f.currency,
        "order_time": ms_to_iso(f.order_time_ms),
        "updated_at": ms_to_iso(f.updated_at_ms),
    }


def order_fact_to_dict(f: OrderFact) -> dict[str, Any]:
    """The normalized fact: the order row plus ``op``, ``ts_ms`` and ``deleted``."""
    row = _order_row(f)
    row["op"] = f.op
    row["ts_ms"] = f.ts_ms
    row["deleted"] = f.deleted
    return row


def order_fact_to_json(f: OrderFact) -> bytes:
    return _ENCODER.encode(order_fact_to_dict(f))


def order_fact_to_debezium_json(f: OrderFact, source: dict[str, Any] | None = None) -> bytes:
    """A Debezium envelope carrying this fact (``before`` for deletes, ``after`` otherwise).

    For producing test and replay input; ``parse_order_change`` of the result gives the fact back.
    """
    row = _order_row(f)
    return _ENCODER.encode(
        {
            "before": row if f.deleted else None,
            "after": None if f.deleted else row,
            "op": f.op,
            "ts_ms": f.ts_ms,
            "source": source if source is not None else {"table": "orders"},
        }
    )


def inventory_row_to_dict(r: InventoryRow) -> dict[str, Any]:
    return {
        "sku_id": r.sku_id,
        "available_qty": r.available_qty,
        "reserved_qty": r.reserved_qty,
        "updated_at": None if r.updated_at_ms is None else ms_to_iso(r.updated_at_ms),
    }


def inventory_row_to_json(r: InventoryRow) -> bytes:
    return _ENCODER.encode(inventory_row_to_dict(r))


def customer_profile_to_dict(p: CustomerProfile) -> dict[str, Any]:
    d: dict[str, Any] = {
        "customer_id": p.customer_id,
        "segment": p.segment,
        "recency": p.recency,
        "frequency": p.frequency,
        "monetary": _money(p.monetary),
        "lifecycle_stage": p.lifecycle_stage,
        "rfm_as_of": p.rfm_as_of.isoformat(),
    }
    if p.snapshot is not None:  # provenance, not a column: only written when known
        d["snapshot"] = p.snapshot
    return d


def customer_profile_to_json(p: CustomerProfile) -> bytes:
    return _ENCODER.encode(customer_profile_to_dict(p))


def decision_to_dict(d: Decision, version: int | None = None) -> dict[str, Any]:
    """The `marketing_segments` row; with ``version`` the `marketing_segments_rt` message body."""
    out: dict[str, Any] = {
        "customer_id": d.customer_id,
        "segment": d.segment,
        "recommendation": list(d.recommendation),
        "score": d.score,
        "updated_at": ms_to_iso(d.updated_at_ms),
        "event_time": ms_to_iso(d.event_time_ms),
        "logic_version": d.logic_version,
    }
    if version is not None:
        out["version"] = version
    if d.channel_preference is not None:  # rules v2; absent otherwise, so v1's rows are unchanged
        out["channel_preference"] = d.channel_preference
    return out


class _RtMessage(msgspec.Struct, gc=False, omit_defaults=True):
    """``decision_to_dict(d, version)`` as a struct, same fields in the same order: encoded once per
    decision on the streaming path, where building the dict first was a visible cost."""

    customer_id: int
    segment: str
    recommendation: tuple[str, ...]
    score: float | None
    updated_at: str
    event_time: str
    logic_version: str
    version: int
    # Omitted when null (omit_defaults): v1's messages are byte for byte what they were.
    channel_preference: str | None = None


def decision_to_json(d: Decision, version: int) -> bytes:
    """The `marketing_segments_rt` value: the row plus the caller's per-customer monotonic ``version``."""
    return _ENCODER.encode(
        _RtMessage(
            d.customer_id,
            d.segment,
            d.recommendation,
            d.score,
            ms_to_iso(d.updated_at_ms),
            ms_to_iso(d.event_time_ms),
            d.logic_version,
            version,
            d.channel_preference,
        )
    )


def decision_audit_to_dict(a: DecisionAudit) -> dict[str, Any]:
    return {
        "event_id": a.event_id,
        "event_time": ms_to_iso(a.event_time_ms),
        "event_type": a.event_type,
        "event_sku_id": a.event_sku_id,
        "customer_id": a.customer_id,
        "profile_found": a.profile_found,
        "profile_segment": a.profile_segment,
        "profile_recency": a.profile_recency,
        "profile_frequency": a.profile_frequency,
        "profile_monetary": _money(a.profile_monetary),
        "profile_rfm_as_of": None if a.profile_rfm_as_of is None else a.profile_rfm_as_of.isoformat(),
        "profile_snapshot": a.profile_snapshot,
        "adjusting_order_ids": list(a.adjusting_order_ids),
        "recency": a.recency,
        "frequency": a.frequency,
        "monetary": _money(a.monetary),
        "event_sku_sellable": a.event_sku_sellable,
        "candidates": [{"sku_id": c.sku_id, "sellable": c.sellable} for c in a.candidates],
        "rule": a.rule,
        "segment": a.segment,
        "recommendation": list(a.recommendation),
        "score": a.score,
        "logic_version": a.logic_version,
        "decided_at": ms_to_iso(a.decided_at_ms),
        **({} if a.channel_preference is None else {"channel_preference": a.channel_preference}),
    }


def decision_audit_to_json(a: DecisionAudit) -> bytes:
    return _ENCODER.encode(decision_audit_to_dict(a))
