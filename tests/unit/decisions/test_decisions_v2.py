"""Logic version v2 clause by clause (persona.decisions.config): VIP_WINBACK, channel_preference, and
the logic-version document the store keeps."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from persona.contracts import BehaviorEvent, CustomerProfile, decision_to_dict, decision_to_json, time_to_ms
from persona.contracts.parsing import parse_decision_message
from persona.decisions import (
    BUILTIN_VERSIONS,
    EMPTY_STATE,
    RULE_ACTIVE,
    RULE_DORMANT_NO_RECENCY,
    RULE_DORMANT_RECENCY,
    RULE_VIP_HIGH_INVENTORY,
    RULE_VIP_WINBACK,
    V1,
    V2,
    LogicConfig,
    channels_including,
    decide,
    logic_from_json,
    logic_to_json,
    observe_event,
    preferred_channel,
)

AS_OF = date(2026, 11, 20)
NOW = time_to_ms("2026-11-25T12:00:00Z")


def event(event_id: str, channel: str | None = "web", sku: str | None = "A") -> BehaviorEvent:
    return BehaviorEvent(event_id, 7, "view", sku, time_to_ms("2026-11-25T10:00:00Z"), None, channel)


def vip(recency: int | None) -> CustomerProfile:
    return CustomerProfile(7, "VIP", recency, 14, Decimal("6000.00"), "active", AS_OF, "rfm-20261120")


def decide_after(
    config: LogicConfig, profile: CustomerProfile | None, stock: int | None, *channels: str | None
):
    state = EMPTY_STATE
    events = [event(f"e{i}", c) for i, c in enumerate(channels)] or [event("e0")]
    for e in events[:-1]:
        state = observe_event(state, e, config)
    last = events[-1]
    return decide(last, profile, observe_event(state, last, config), {"A": stock}, config, NOW)


# --- VIP_WINBACK ---------------------------------------------------------------------------------


def test_a_vip_at_the_active_threshold_is_winback_under_v2_and_dormant_under_v1() -> None:
    # recency 2 at as-of + 5 days = 7 = active_max_recency_days: not active.
    d2, a2 = decide_after(V2, vip(2), 0)
    d1, a1 = decide_after(V1, vip(2), 0)
    assert (d2.segment, a2.rule) == ("VIP_WINBACK", RULE_VIP_WINBACK)
    assert (d1.segment, a1.rule) == ("DORMANT", RULE_DORMANT_RECENCY)


def test_a_vip_with_unknown_recency_is_winback_under_v2() -> None:
    d, a = decide_after(V2, vip(None), 0)
    assert (d.segment, a.rule) == ("VIP_WINBACK", RULE_VIP_WINBACK)
    assert decide_after(V1, vip(None), 0)[1].rule == RULE_DORMANT_NO_RECENCY


def test_a_recent_vip_stays_active_under_v2() -> None:
    d, a = decide_after(V2, vip(1), 0)  # recency 6 < 7
    assert (d.segment, a.rule) == ("ACTIVE", RULE_ACTIVE)


def test_vip_high_inventory_still_wins_first_under_v2() -> None:
    d, a = decide_after(V2, vip(30), 11)
    assert (d.segment, a.rule) == ("VIP_HIGH_INVENTORY", RULE_VIP_HIGH_INVENTORY)


def test_a_dormant_non_vip_stays_dormant_under_v2() -> None:
    regular = CustomerProfile(7, "REGULAR", 30, 2, Decimal("50.00"), "active", AS_OF)
    d, a = decide_after(V2, regular, 0)
    assert (d.segment, a.rule) == ("DORMANT", RULE_DORMANT_RECENCY)
    assert decide_after(V2, None, 0)[1].rule == RULE_DORMANT_NO_RECENCY


def test_the_winback_segment_name_is_configuration() -> None:
    config = dataclasses.replace(V2, vip_winback_segment="VIP_COME_BACK")
    assert decide_after(config, vip(10), 0)[0].segment == "VIP_COME_BACK"


# --- channel_preference ---------------------------------------------------------------------------


def test_preferred_channel_is_the_most_frequent_ties_to_the_most_recent() -> None:
    assert preferred_channel(()) is None
    assert preferred_channel(("app",)) == "app"
    assert preferred_channel(("web", "app", "app")) == "app"
    assert preferred_channel(("web", "app", "app", "web")) == "web"  # tie: web is newest
    assert preferred_channel(("email", "web", "app")) == "email"


def test_channels_are_kept_newest_first_bounded_and_events_without_one_change_nothing() -> None:
    config = dataclasses.replace(V2, recent_channel_capacity=3)
    channels: tuple[str, ...] = ()
    for i, c in enumerate(["a", "b", None, "c", "d"]):
        channels = channels_including(channels, event(f"e{i}", c), config)
    assert channels == ("d", "c", "b")
    assert channels_including(channels, event("x", ""), config) == channels


def test_observe_event_keeps_channels_under_every_rules() -> None:
    state = observe_event(EMPTY_STATE, event("e1", "app"), V1)
    assert state.recent_channels == ("app",)
    assert observe_event(state, event("e1", "app"), V1) is state  # a duplicate adds nothing


def test_v2_fills_channel_preference_from_recent_channels_v1_leaves_it_null() -> None:
    d2, a2 = decide_after(V2, None, 0, "app", "web", "app", "web", "web")
    assert d2.channel_preference == "web" and a2.channel_preference == "web"
    d1, a1 = decide_after(V1, None, 0, "app", "web", "app", "web", "web")
    assert d1.channel_preference is None and a1.channel_preference is None


def test_v2_preference_is_null_without_any_channel() -> None:
    assert decide_after(V2, None, 0, None, None)[0].channel_preference is None


def test_v2_gives_the_same_preference_from_the_state_before_or_after_the_event() -> None:
    state = observe_event(EMPTY_STATE, event("e0", "app"), V2)
    last = event("e1", "web")
    before = decide(last, None, state, {}, V2, NOW)[0]
    after = decide(last, None, observe_event(state, last, V2), {}, V2, NOW)[0]
    assert before.channel_preference == after.channel_preference == "web"


def test_the_preference_reaches_the_rt_json_only_when_set() -> None:
    d2 = decide_after(V2, None, 0, "app")[0]
    d1 = decide_after(V1, None, 0, "app")[0]
    assert b"channel_preference" not in decision_to_json(d1, 3)
    parsed = parse_decision_message(decision_to_json(d2, 3))
    assert parsed.value.decision == d2  # type: ignore[union-attr]
    assert decision_to_dict(d2, 3)["channel_preference"] == "app"
    assert "channel_preference" not in decision_to_dict(d1, 3)


# --- the logic-version document ---------------------------------------------------------------------


def test_builtin_versions_round_trip_through_their_document() -> None:
    assert set(BUILTIN_VERSIONS) == {"v1", "v2"}
    for version in BUILTIN_VERSIONS.values():
        assert logic_from_json(logic_to_json(version)) == version
    assert (V1.rules, V2.rules) == ("v1", "v2")


def test_a_document_with_an_unknown_field_or_rules_is_refused_and_a_missing_field_defaults() -> None:
    with pytest.raises(ValueError, match="unknown logic version field"):
        logic_from_json('{"logic_version": "v3", "vip_min_velocity": 4}')
    with pytest.raises(ValueError, match="rules must be one of"):
        logic_from_json('{"logic_version": "v3", "rules": "v9"}')
    with pytest.raises(ValueError, match="JSON object"):
        logic_from_json("[1]")
    assert logic_from_json('{"logic_version": "v3", "rules": "v2"}') == LogicConfig("v3", rules="v2")
