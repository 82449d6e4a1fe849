"""The named input rules (issue 17): implausible_time, epoch_seconds, amount_scale, count_range, and
moved orders; each reject reason starts with the record kind and the rule."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from persona.contracts import (
    DEFAULT_TIME_WINDOW,
    MAX_PROFILE_COUNT,
    Err,
    Ok,
    OrderFact,
    TimeWindow,
    order_fact_to_debezium_json,
    parse_behavior_event,
    parse_customer_profile,
    parse_inventory_row,
    parse_order_change,
    parse_order_changes,
    time_to_ms,
)
from persona.settings import SettingsError
from persona.settings.registry import time_window

NOW = time_to_ms("2026-11-28T12:00:00Z")
T = "2026-11-24T04:31:13Z"


def event(**changes: Any) -> bytes:
    doc = {"event_id": "e-1", "user_id": 42, "event_type": "view", "sku_id": "S", "event_time": T}
    return orjson.dumps({**doc, **changes})


def row(**changes: Any) -> dict[str, Any]:
    doc = {
        "order_id": 7,
        "customer_id": 1,
        "status": "PAID",
        "total_amount": "12.34",
        "currency": "VND",
        "order_time": T,
        "updated_at": T,
    }
    return {**doc, **changes}


def envelope(op: str = "c", before: Any = None, after: Any = None, ts_ms: Any = None) -> bytes:
    ts = time_to_ms(T) if ts_ms is None else ts_ms
    return orjson.dumps({"before": before, "after": after, "op": op, "ts_ms": ts, "source": {}})


def reason(result: object) -> str:
    assert isinstance(result, Err), result
    return result.reason


# --- amount_scale ---------------------------------------------------------------------------------------


def test_amount_with_three_decimals_is_rejected_with_the_rule() -> None:
    got = reason(parse_order_change(envelope(after=row(total_amount="12.345")), now_ms=NOW))
    assert got == "order_change: amount_scale: total_amount 12.345 has 3 decimals; DECIMAL(12,2) holds 2"


@pytest.mark.parametrize("amount", ["0.001", "1.000001", 12.345, "9999999999.999"])
def test_amounts_the_audit_cannot_hold_are_rejected(amount: object) -> None:
    got = reason(parse_order_change(envelope(after=row(total_amount=amount))))
    assert got.startswith("order_change: amount_scale: total_amount")


@pytest.mark.parametrize(("amount", "held"), [("12.3400", "12.34"), ("5.000000", "5.00"), (1.50, "1.5")])
def test_exact_trailing_zeros_are_quantized_to_cents(amount: object, held: str) -> None:
    result = parse_order_change(envelope(after=row(total_amount=amount)))
    assert isinstance(result, Ok)
    assert str(result.value.total_amount) == held


def test_profile_monetary_scale_and_counts() -> None:
    profile = {"customer_id": 1, "segment": "VIP", "recency": 3, "frequency": 2, "rfm_as_of": "2026-11-20"}
    bad = orjson.dumps({**profile, "monetary": "1.005"})
    assert reason(parse_customer_profile(bad)).startswith("customer_profile: amount_scale: monetary 1.005")
    ok = parse_customer_profile(orjson.dumps({**profile, "monetary": "1.500"}))
    assert isinstance(ok, Ok) and str(ok.value.monetary) == "1.50"
    for field in ("recency", "frequency"):
        # An INT32 profile count plus the days/orders a decision adds would overflow the audit's INT.
        huge = orjson.dumps({**profile, "monetary": "1.00", field: 2**31 - 1})
        assert reason(parse_customer_profile(huge)).startswith(f"customer_profile: count_range: {field}")
        edge = orjson.dumps({**profile, "monetary": "1.00", field: MAX_PROFILE_COUNT})
        assert isinstance(parse_customer_profile(edge), Ok)


# --- implausible_time and epoch_seconds -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59Z",
        253402300799999,
        "2026-11-29T12:00:00.001Z",
        "1999-12-31T23:59:59Z",
        "1970-01-01T00:00:00Z",
    ],
)
def test_event_time_outside_the_window_is_implausible(value: object) -> None:
    got = reason(parse_behavior_event(event(event_time=value), DEFAULT_TIME_WINDOW, NOW))
    assert got.startswith("behavior_event: implausible_time: event_time ")


def test_window_edges_are_inside() -> None:
    for edge in ("2000-01-01T00:00:00Z", "2026-11-29T12:00:00Z"):  # min, and now + 1 day exactly
        assert isinstance(parse_behavior_event(event(event_time=edge), DEFAULT_TIME_WINDOW, NOW), Ok)


def test_without_now_there_is_no_upper_bound_but_the_minimum_holds() -> None:
    assert isinstance(parse_behavior_event(event(event_time="9999-12-31T23:59:59Z")), Ok)
    assert isinstance(parse_behavior_event(event(event_time="1999-01-01T00:00:00Z")), Err)


def test_epoch_seconds_have_their_own_reason_and_zero_is_implausible() -> None:
    got = reason(parse_behavior_event(event(event_time=1764300000), DEFAULT_TIME_WINDOW, NOW))
    assert got == (
        "behavior_event: epoch_seconds: event_time 1764300000 looks like epoch seconds; times are epoch millis"
    )
    zero = reason(parse_behavior_event(event(event_time=0), DEFAULT_TIME_WINDOW, NOW))
    assert zero.startswith("behavior_event: implausible_time: event_time 0")


@pytest.mark.parametrize("field", ["order_time", "updated_at"])
@pytest.mark.parametrize("value", ["9999-01-01T00:00:00Z", 0, 1764300000])
def test_order_row_times_obey_the_rules(field: str, value: object) -> None:
    got = reason(parse_order_change(envelope(after=row(**{field: value})), DEFAULT_TIME_WINDOW, NOW))
    assert got.startswith("order_change: ") and f" {field} " in got
    assert "implausible_time" in got or "epoch_seconds" in got


@pytest.mark.parametrize("ts_ms", [253402300799999, 0, 1764300000, time_to_ms("1990-01-01T00:00:00Z")])
def test_ts_ms_obeys_the_rules(ts_ms: int) -> None:
    got = reason(parse_order_changes(envelope(after=row(), ts_ms=ts_ms), DEFAULT_TIME_WINDOW, NOW))
    assert got.startswith(("order_change: implausible_time: ts_ms", "order_change: epoch_seconds: ts_ms"))


def test_inventory_updated_at_obeys_the_rules() -> None:
    doc = {"sku_id": "S", "available_qty": 1, "reserved_qty": 0, "updated_at": "9999-01-01T00:00:00Z"}
    got = reason(parse_inventory_row(orjson.dumps(doc), DEFAULT_TIME_WINDOW, NOW))
    assert got.startswith("inventory_row: implausible_time: updated_at")


def test_a_configured_window() -> None:
    window = TimeWindow(min_ms=time_to_ms("2026-01-01T00:00:00Z"), max_ahead_ms=0)
    assert isinstance(parse_behavior_event(event(), window, NOW), Ok)
    assert isinstance(parse_behavior_event(event(event_time="2025-12-31T23:59:59Z"), window, NOW), Err)
    assert isinstance(parse_behavior_event(event(event_time="2026-11-28T12:00:00.001Z"), window, NOW), Err)
    with pytest.raises(ValueError, match="invalid time window"):
        TimeWindow(max_ahead_ms=-1)


def test_window_settings() -> None:
    assert (
        time_window({}) == DEFAULT_TIME_WINDOW == TimeWindow(time_to_ms("2000-01-01T00:00:00Z"), 86_400_000)
    )
    env = {"PERSONA_TIME_MIN": "2020-06-01T00:00:00+02:00", "PERSONA_TIME_MAX_AHEAD": "3600"}
    assert time_window(env) == TimeWindow(time_to_ms("2020-05-31T22:00:00Z"), 3_600_000)
    for bad in ({"PERSONA_TIME_MIN": "2020-06-01"}, {"PERSONA_TIME_MAX_AHEAD": "-1"}):
        with pytest.raises(SettingsError, match=next(iter(bad))):
            time_window(bad)


# --- moved orders ---------------------------------------------------------------------------------------


def test_an_order_moved_to_another_customer_retracts_it_from_the_old_one() -> None:
    before = row(customer_id=1, updated_at="2026-11-24T04:00:00Z")
    after = row(customer_id=2, updated_at="2026-11-24T05:00:00Z")
    ts = time_to_ms("2026-11-24T05:00:01Z")
    result = parse_order_changes(envelope("u", before, after, ts_ms=ts), DEFAULT_TIME_WINDOW, NOW)
    assert isinstance(result, Ok)
    retraction, moved = result.value
    assert (retraction.customer_id, retraction.deleted, retraction.op, retraction.ts_ms) == (1, True, "d", ts)
    assert retraction.updated_at_ms == time_to_ms("2026-11-24T04:00:00Z") and not retraction.counts
    assert (moved.customer_id, moved.deleted, moved.op, moved.ts_ms) == (2, False, "u", ts) and moved.counts
    # The single-fact parser gives the change's own row; the cdc flow's facts re-parse to themselves.
    assert parse_order_change(envelope("u", before, after, ts_ms=ts)) == Ok(moved)
    for fact in (retraction, moved):
        assert parse_order_change(order_fact_to_debezium_json(fact)) == Ok(fact)


def test_updates_within_one_customer_and_other_ops_give_one_fact() -> None:
    for data in (
        envelope("u", row(status="PLACED"), row()),
        envelope("u", None, row()),
        envelope("c", row(customer_id=9), row()),  # a create's before image means nothing
        envelope("d", row(), None),
    ):
        result = parse_order_changes(data)
        assert isinstance(result, Ok) and len(result.value) == 1
        assert isinstance(result.value[0], OrderFact) and result.value[0].customer_id == 1


def test_a_moved_order_needs_a_valid_before_row_with_the_same_order_id() -> None:
    bad_before = envelope("u", row(customer_id=1, total_amount="1.001"), row(customer_id=2))
    assert reason(parse_order_changes(bad_before)).startswith(
        "order_change: amount_scale: before.total_amount 1.001"
    )
    other_order = envelope("u", row(customer_id=1, order_id=8), row(customer_id=2))
    assert "changes order_id 8 to 7" in reason(parse_order_changes(other_order))


def test_amounts_are_decimal_after_quantizing() -> None:
    result = parse_order_change(envelope(after=row(total_amount="0.10")))
    assert isinstance(result, Ok) and result.value.total_amount == Decimal("0.1")
