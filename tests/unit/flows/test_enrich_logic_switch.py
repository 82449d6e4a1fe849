"""The enrich flow follows the active logic version without a restart: when the logic source answers
another version, every customer the shard holds is decided again, on their last event, with it, and
later events are decided with it too."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
import orjson
from flow_io import decision_rows
from test_flows_golden import DictInventory, DictProfiles

from persona.contracts import BehaviorEvent, parse_behavior_event
from persona.contracts.result import Ok
from persona.decisions import V1, V2, LogicConfig
from persona.flows.enrich import CustomerShard
from persona.flows.enrich.flow import EnrichContext
from persona.kafka.bytewax_io import OutRecord
from persona.settings import PipelineSettings


@dataclass
class SwitchableLogic:
    config: LogicConfig = V1
    refreshes: list[int] = field(default_factory=list)

    def current(self) -> LogicConfig:
        return self.config

    def maybe_refresh(self) -> bool:
        self.refreshes.append(1)
        return False


def _event(event_id: str, customer: int, second: int, channel: str) -> BehaviorEvent:
    raw = orjson.dumps(
        {
            "event_id": event_id,
            "user_id": customer,
            "event_type": "view",
            "sku_id": "A",
            "event_time": f"2026-11-20T10:00:{second:02d}Z",
            "channel": channel,
        }
    )
    parsed = parse_behavior_event(raw)
    assert isinstance(parsed, Ok)
    return parsed.value


def _run(shard: CustomerShard, *items: object) -> list[OutRecord]:
    out, _ = shard.on_batch([list(items)])  # type: ignore[list-item]
    return [r for batch in out for r in batch]


def test_a_new_active_version_redecides_held_customers_and_decides_later_events() -> None:
    logic = SwitchableLogic()
    ctx = EnrichContext(
        PipelineSettings(),
        DictProfiles({}),
        DictInventory({"A": 4}),
        clock=lambda: 1_800_000_000.0,
        logic=logic,
    )
    shard = CustomerShard(ctx, None)
    first = decision_rows(_run(shard, _event("e-1", 7, 1, "app"), _event("e-2", 8, 2, "web")))
    assert [(r["event_id"], r["logic_version"], r["channel_preference"]) for r in first] == [
        ("e-1", "v1", None),
        ("e-2", "v1", None),
    ]
    # The same version again: nobody is re-decided.
    assert _run(shard) == []
    logic.config = V2
    again = decision_rows(_run(shard))
    assert [(r["event_id"], r["version"], r["logic_version"], r["channel_preference"]) for r in again] == [
        ("e-1~v2-2", 2, "v2", "app"),
        ("e-2~v2-2", 2, "v2", "web"),
    ]
    # An idle shard follows too: its notification looks for a new version.
    logic.config = V1
    out, _ = shard.on_notify()
    idle = decision_rows([r for batch in out for r in batch])
    assert [(r["event_id"], r["logic_version"]) for r in idle] == [("e-1~v1-3", "v1"), ("e-2~v1-3", "v1")]
    assert shard.notify_at() is not None
    logic.config = V2
    _run(shard)
    later = decision_rows(_run(shard, _event("e-3", 7, 3, "web")))
    assert [(r["event_id"], r["version"], r["logic_version"]) for r in later] == [("e-3", 5, "v2")]
    assert logic.refreshes, "the shard asks the source to refresh"


def test_a_logic_switch_keeps_what_the_customer_state_holds_besides_the_version() -> None:
    logic = SwitchableLogic()
    ctx = EnrichContext(
        PipelineSettings(),
        DictProfiles({}),
        DictInventory({"A": 4}),
        clock=lambda: 1_800_000_000.0,
        logic=logic,
    )
    shard = CustomerShard(ctx, None)
    _run(shard, _event("e-1", 7, 1, "app"))
    # A customer who came back after an erasure: the erasure's instant stays with them.
    erased_at = 1_700_000_000_000
    shard.customers[7] = msgspec.structs.replace(shard.customers[7], erased_at_ms=erased_at)
    before = shard.customers[7]
    logic.config = V2
    assert [r["event_id"] for r in decision_rows(_run(shard))] == ["e-1~v2-2"]
    assert shard.customers[7] == msgspec.structs.replace(before, version=before.version + 1)
    assert shard.customers[7].erased_at_ms == erased_at
