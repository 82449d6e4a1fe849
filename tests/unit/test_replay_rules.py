"""`persona replay` under the input rules and identities (issue 17): it agrees with the streaming flows on
event identity (user_id, event_id), moved orders and the plausibility window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from persona.contracts import Ok, TimeWindow, parse_dlq_record, time_to_ms
from persona.replay import run_replay

NOW = time_to_ms("2026-11-28T12:00:00Z")


def ev(event_id: str, user: int, t: Any) -> dict[str, Any]:
    return {"event_id": event_id, "user_id": user, "event_type": "view", "sku_id": "A", "event_time": t}


def row(customer: int, updated: str) -> dict[str, Any]:
    return {
        "order_id": 5,
        "customer_id": customer,
        "status": "PAID",
        "total_amount": "40.00",
        "currency": "VND",
        "order_time": "2026-11-22T10:00:00Z",
        "updated_at": updated,
    }


def env(op: str, ts: str, before: Any = None, after: Any = None) -> dict[str, Any]:
    return {"before": before, "after": after, "op": op, "ts_ms": time_to_ms(ts), "source": {}}


def replay(
    tmp_path: Path, events: list[Any], orders: list[Any], **kwargs: Any
) -> tuple[Any, list[dict[str, Any]], list[Any]]:
    files = {}
    for name, lines in (("events", events), ("orders", orders), ("profiles", []), ("inventory", [])):
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(b"".join((x if isinstance(x, bytes) else orjson.dumps(x)) + b"\n" for x in lines))
        files[name] = path
    out, dlq = tmp_path / "out.jsonl", tmp_path / "dlq.jsonl"
    stats = run_replay(
        files["events"], files["orders"], files["profiles"], files["inventory"], out, dlq, **kwargs
    )
    decisions = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    dead = []
    for line in dlq.read_bytes().splitlines():
        parsed = parse_dlq_record(line)
        assert isinstance(parsed, Ok)
        dead.append(parsed.value)
    return stats, decisions, dead


def test_the_same_event_id_of_two_customers_is_two_events(tmp_path: Path) -> None:
    events = [ev("e-1", 1, "2026-11-24T00:00:00Z"), ev("e-1", 2, "2026-11-24T00:00:01Z")]
    events.append(ev("e-1", 1, "2026-11-24T00:00:02Z"))  # a repeat of customer 1's: dropped
    stats, decisions, _ = replay(tmp_path, events, [], now_ms=NOW)
    assert [(d["event_id"], d["customer_id"]) for d in decisions] == [("e-1", 1), ("e-1", 2)]
    assert stats.events_duplicate == 1


def test_a_moved_order_stops_counting_for_the_old_customer(tmp_path: Path) -> None:
    before, after = row(1, "2026-11-22T10:00:00Z"), row(2, "2026-11-23T00:00:00Z")
    orders = [env("c", "2026-11-22T10:00:00Z", after=before), env("u", "2026-11-23T00:00:00Z", before, after)]
    events = [
        ev("e-1", 1, "2026-11-22T12:00:00Z"),  # before the move: the order counts for customer 1
        ev("e-2", 1, "2026-11-24T00:00:00Z"),
        ev("e-3", 2, "2026-11-24T00:00:00Z"),
    ]
    stats, decisions, _ = replay(tmp_path, events, orders, now_ms=NOW)
    got = {d["event_id"]: (d["customer_id"], d["frequency"], d["monetary"], d["segment"]) for d in decisions}
    assert got == {
        "e-1": (1, 1, "40.00", "ACTIVE"),
        "e-2": (1, None, None, "DORMANT"),
        "e-3": (2, 1, "40.00", "ACTIVE"),
    }
    assert stats.orders_valid == 2


def test_implausible_times_go_to_the_dlq_with_their_rule(tmp_path: Path) -> None:
    events = [
        ev("far", 1, "9999-01-01T00:00:00Z"),
        ev("zero", 1, 0),
        ev("seconds", 1, 1764300000),
        ev("ok", 1, "2026-11-24T00:00:00Z"),
    ]
    orders = [
        env("c", "2026-11-22T10:00:00Z", after={**row(1, "2026-11-22T10:00:00Z"), "total_amount": "9.999"})
    ]
    stats, decisions, dead = replay(tmp_path, events, orders, now_ms=NOW)
    assert [d["event_id"] for d in decisions] == ["ok"]
    reasons = sorted(d.reason.split(": ")[1] for d in dead)
    assert reasons == ["amount_scale", "epoch_seconds", "implausible_time", "implausible_time"]
    assert stats.dlq == 4


def test_the_window_is_the_callers(tmp_path: Path) -> None:
    window = TimeWindow(min_ms=time_to_ms("2026-11-24T00:00:01Z"))
    _, decisions, dead = replay(tmp_path, [ev("old", 1, "2026-11-24T00:00:00Z")], [], window=window)
    assert decisions == [] and len(dead) == 1
