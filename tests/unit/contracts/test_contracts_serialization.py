"""Serialization: JSON shape of each record, ISO-8601 UTC output, and parse(serialize(x)) == x."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from persona.contracts import (
    DEFAULT_TIME_WINDOW,
    MAX_PROFILE_COUNT,
    BehaviorEvent,
    CandidateSku,
    CustomerProfile,
    Decision,
    DecisionAudit,
    InventoryRow,
    Ok,
    OrderFact,
    behavior_event_to_json,
    customer_profile_to_json,
    decision_audit_to_json,
    decision_to_dict,
    decision_to_json,
    inventory_row_to_json,
    ms_to_iso,
    order_fact_to_debezium_json,
    order_fact_to_json,
    parse_behavior_event,
    parse_customer_profile,
    parse_decision_message,
    parse_inventory_row,
    parse_order_change,
    time_to_ms,
)

# No example database (it would leave a .hypothesis/ directory in the work tree) and no per-example
# deadline (a loaded 2-core CI machine must not turn slowness into failures).
_settings = settings(database=None, deadline=None)

MAX_MS = 253_402_300_799_999
times = st.integers(min_value=0, max_value=MAX_MS)
# Input records' times obey the plausibility window (issue 17); without a "now" it has no upper bound.
plausible_times = st.integers(min_value=DEFAULT_TIME_WINDOW.min_ms, max_value=MAX_MS)
ids = st.integers(min_value=1, max_value=2**63 - 1)
text = st.text(min_size=1, max_size=40)
amounts = st.decimals(min_value=0, max_value=Decimal("9999999999.99"), places=2, allow_nan=False)


@pytest.mark.parametrize(
    ("ms", "iso"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1795494673123, "2026-11-24T04:31:13.123Z"),
        (MAX_MS, "9999-12-31T23:59:59.999Z"),
    ],
)
def test_ms_to_iso(ms: int, iso: str) -> None:
    assert ms_to_iso(ms) == iso
    assert time_to_ms(iso) == ms


@_settings
@given(times)
def test_time_round_trip(ms: int) -> None:
    assert time_to_ms(ms_to_iso(ms)) == ms


@pytest.mark.parametrize(
    "bad",
    [
        "2026-11-24T04:31:13.12xZ",
        "2026-11-24T04:31:13.1-2Z",
        "2026-11-24T04:31:13.\u0661\u0662\u0663Z",  # digits, but not ASCII ones
        "2026-11-24T04:31:13. 12Z",
    ],
)
def test_a_known_second_does_not_vouch_for_bad_milliseconds(bad: str) -> None:
    # The second is parsed once and remembered; the milliseconds of every later time are checked.
    assert time_to_ms("2026-11-24T04:31:13.500Z") == 1795494673500
    assert time_to_ms("2026-11-24T04:31:13.007Z") == 1795494673007
    with pytest.raises(ValueError, match="not an ISO-8601 time"):
        time_to_ms(bad)


def test_canonical_times_agree_with_other_spellings_of_the_same_instant() -> None:
    for _ in range(2):  # the second pass answers from the remembered second
        assert time_to_ms("2026-11-24T04:31:13.123Z") == time_to_ms("2026-11-24T11:31:13.123+07:00")
        assert time_to_ms("2026-11-24T04:31:59.999Z") == time_to_ms("2026-11-24T04:32:00Z") - 1


def test_decision_json_carries_version_and_iso_times() -> None:
    d = Decision(4, "ACTIVE", ("sku:A", "sku:B"), 91.10900000000001, 1795219348001, 1795219348000, "v1")
    assert orjson.loads(decision_to_json(d, 7)) == {
        "customer_id": 4,
        "segment": "ACTIVE",
        "recommendation": ["sku:A", "sku:B"],
        "score": 91.10900000000001,
        "updated_at": "2026-11-21T00:02:28.001Z",
        "event_time": "2026-11-21T00:02:28.000Z",
        "logic_version": "v1",
        "version": 7,
    }
    result = parse_decision_message(decision_to_json(d, 7))
    assert isinstance(result, Ok) and result.value.decision == d and result.value.version == 7
    # The rt message is the marketing_segments row plus version, fields in the row's order.
    assert list(orjson.loads(decision_to_json(d, 7))) == list(decision_to_dict(d, 7))


def test_decision_null_score() -> None:
    d = Decision(4, "DORMANT", (), None, 0, 0, "v1")
    assert orjson.loads(decision_to_json(d, 0))["score"] is None


def test_audit_json() -> None:
    audit = DecisionAudit(
        event_id="e1",
        event_time_ms=0,
        event_type="view",
        event_sku_id="A",
        customer_id=4,
        profile_found=True,
        profile_segment="VIP",
        profile_recency=3,
        profile_frequency=2,
        profile_monetary=Decimal("10.50"),
        profile_rfm_as_of=date(2026, 11, 20),
        profile_snapshot="rfm-20261120",
        adjusting_order_ids=(1, 2),
        recency=0,
        frequency=4,
        monetary=Decimal("1E+2"),
        event_sku_sellable=None,
        candidates=(CandidateSku("A", None), CandidateSku("B", 3)),
        rule="r",
        segment="ACTIVE",
        recommendation=("sku:B",),
        score=12.0,
        logic_version="v1",
        decided_at_ms=1,
    )
    doc = orjson.loads(decision_audit_to_json(audit))
    assert doc["candidates"] == [{"sku_id": "A", "sellable": None}, {"sku_id": "B", "sellable": 3}]
    assert doc["monetary"] == "100"  # plain notation, never exponent
    assert doc["profile_monetary"] == "10.50"
    assert doc["profile_rfm_as_of"] == "2026-11-20"
    assert doc["decided_at"] == "1970-01-01T00:00:00.001Z"


@_settings
@given(
    st.builds(
        BehaviorEvent,
        event_id=text,
        user_id=ids,
        event_type=st.text(min_size=1, max_size=20),
        sku_id=st.none() | text,
        event_time_ms=plausible_times,
        session_id=st.none() | st.text(max_size=20),
        channel=st.none() | st.text(max_size=20),
    )
)
def test_event_round_trip(event: BehaviorEvent) -> None:
    assert parse_behavior_event(behavior_event_to_json(event)) == Ok(event)


@st.composite
def order_facts(draw: st.DrawFn) -> OrderFact:
    op = draw(st.sampled_from(["c", "u", "r", "d"]))
    return OrderFact(
        order_id=draw(ids),
        customer_id=draw(ids),
        status=draw(st.sampled_from(["PLACED", "PAID", "SHIPPED", "CANCELLED", "REFUNDED"])),
        total_amount=draw(amounts),
        currency=draw(st.text(min_size=1, max_size=3)),
        order_time_ms=draw(plausible_times),
        updated_at_ms=draw(plausible_times),
        op=op,
        ts_ms=draw(plausible_times),
        deleted=op == "d",
    )


@_settings
@given(order_facts())
def test_order_fact_debezium_round_trip(fact: OrderFact) -> None:
    assert parse_order_change(order_fact_to_debezium_json(fact)) == Ok(fact)
    doc = orjson.loads(order_fact_to_json(fact))
    assert doc["deleted"] is fact.deleted and Decimal(doc["total_amount"]) == fact.total_amount


@_settings
@given(
    st.builds(
        InventoryRow,
        sku_id=text,
        available_qty=st.integers(0, 2**63 - 1),
        reserved_qty=st.integers(0, 2**63 - 1),
        updated_at_ms=st.none() | plausible_times,
    )
)
def test_inventory_round_trip(row: InventoryRow) -> None:
    assert parse_inventory_row(inventory_row_to_json(row)) == Ok(row)
    assert row.sellable == max(0, row.available_qty - row.reserved_qty) >= 0


@_settings
@given(
    st.builds(
        CustomerProfile,
        customer_id=ids,
        segment=st.none() | st.text(min_size=1, max_size=10),
        recency=st.none() | st.integers(0, MAX_PROFILE_COUNT),
        frequency=st.none() | st.integers(0, MAX_PROFILE_COUNT),
        monetary=st.none() | amounts,
        lifecycle_stage=st.none() | st.text(min_size=1, max_size=10),
        rfm_as_of=st.dates(min_value=date(1970, 1, 1)),
        snapshot=st.none() | text,
    )
)
def test_profile_round_trip(profile: CustomerProfile) -> None:
    assert parse_customer_profile(customer_profile_to_json(profile)) == Ok(profile)


@_settings
@given(st.binary(max_size=200))
def test_parsers_never_raise_on_arbitrary_bytes(data: bytes) -> None:
    for parse in (
        parse_behavior_event,
        parse_order_change,
        parse_inventory_row,
        parse_customer_profile,
        parse_decision_message,
    ):
        parse(data)  # Ok or Err, never an exception


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@_settings
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "event_id",
                "user_id",
                "event_type",
                "sku_id",
                "event_time",
                "op",
                "before",
                "after",
                "ts_ms",
                "sku_id",
                "available_qty",
            ]
        ),
        json_values,
    )
)
def test_parsers_never_raise_on_arbitrary_json_objects(doc: dict[str, object]) -> None:
    data = json.dumps(doc).encode()  # stdlib: also writes integers beyond 64 bits
    for parse in (parse_behavior_event, parse_order_change, parse_inventory_row, parse_customer_profile):
        parse(data)
