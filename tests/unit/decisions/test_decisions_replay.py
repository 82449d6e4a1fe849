"""Replay engine and `persona replay` CLI on a hand-built scenario (the golden one is in test_replay_golden).

Every expected decision below is worked out by hand from DESIGN §4; comments show the arithmetic.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import orjson
import pytest

from persona.contracts import Ok, parse_dlq_record, time_to_ms
from persona.decisions import LogicV1Config
from persona.replay import run_replay


def ms(iso: str) -> int:
    return time_to_ms(iso)


def row(
    order_id: int, customer: int, status: str, amount: str, order_time: str, updated: str
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "customer_id": customer,
        "status": status,
        "total_amount": amount,
        "currency": "VND",
        "order_time": order_time,
        "updated_at": updated,
    }


def env(op: str, ts: str, before: Any = None, after: Any = None) -> bytes:
    return orjson.dumps({"before": before, "after": after, "op": op, "ts_ms": ms(ts), "source": {}})


def ev(event_id: str, user: Any, event_type: str, sku: str | None, t: Any) -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "user_id": user,
            "event_type": event_type,
            "sku_id": sku,
            "event_time": t,
            "session_id": "s",
            "channel": "web",
        }
    )


O1 = row(1, 2, "PAID", "60.00", "2026-11-22T10:00:00Z", "2026-11-22T10:00:00Z")
O1_REFUNDED = {**O1, "status": "REFUNDED", "updated_at": "2026-11-24T00:00:00Z"}
O2 = row(2, 3, "SHIPPED", "25.50", "2026-11-23T08:00:00Z", "2026-11-23T08:00:00Z")

EVENTS = [
    ev("ev1", 1, "view", "E", "2026-11-25T10:00:00Z"),
    ev("ev0", 1, "view", "B", ms("2026-11-25T09:00:00Z")),  # earlier than ev1 though later in the file
    ev("ev2", 2, "view", "A", "2026-11-23T12:00:00+00:00"),
    ev("ev3", 2, "add_to_cart", "C", "2026-11-24T07:00:00+07:00"),  # = 2026-11-24T00:00Z, ties O1_REFUNDED
    b"",  # blank lines are skipped, not dead-lettered
    ev("ev4", 3, "view", "D", "2026-11-23T08:00:00Z"),  # ties O2's ts_ms: the order goes first
    ev("ev4", 3, "view", "D", "2026-11-23T08:00:00Z"),  # duplicate delivery: no decision
    ev("bad-naive", 1, "view", "A", "2026-11-25T10:00:00"),
    ev("bad-bool", True, "view", "A", "2026-11-25T10:00:00Z"),
    b"{",
    ev("ev7", 1, "view", "A", "2026-11-25T11:00:00Z"),  # same instant as ev8: file order decides
    ev("ev8", 1, "view", "C", "2026-11-25T11:00:00Z"),
    ev("ev5", 3, "search", "A", "2026-11-26T00:00:00Z"),
    ev("ev6", 4, "page_view", None, "2026-11-26T01:00:00Z"),
]
ORDERS = [
    env("c", "2026-11-22T10:00:00Z", after=O1),
    env("u", "2026-11-24T00:00:00Z", before=O1, after=O1_REFUNDED),
    env("c", "2026-11-23T08:00:00Z", after=O2),
    env("c", "2026-11-23T08:00:00Z", after=O2),  # duplicate delivery: harmless
    env("x", "2026-11-23T08:00:00Z", after=O2),  # unknown op: DLQ
]
PROFILES = [
    b'{"customer_id": 1, "segment": "VIP", "recency": 30, "frequency": 10, "monetary": "500.00",'
    b' "lifecycle_stage": "active", "rfm_as_of": "2026-11-20"}',
    b'{"customer_id": 2, "segment": "REGULAR", "recency": 3, "frequency": 2, "monetary": "40.00",'
    b' "lifecycle_stage": "active", "rfm_as_of": "2026-11-20"}',
    b"not json",
]
INVENTORY = [
    b'{"sku_id": "A", "available_qty": 20, "reserved_qty": 5, "updated_at": "2026-11-21T00:00:00Z"}',  # 15
    b'{"sku_id": "B", "available_qty": 3, "reserved_qty": 3, "updated_at": "2026-11-21T00:00:00Z"}',  # 0
    b'{"sku_id": "C", "available_qty": 2, "reserved_qty": 0, "updated_at": "2026-11-21T00:00:00Z"}',  # 2
    b'{"sku_id": "C", "available_qty": 99, "reserved_qty": 0, "updated_at": "2026-11-20T00:00:00Z"}',  # older
    b'{"sku_id": "E", "available_qty": 12, "reserved_qty": 1, "updated_at": "2026-11-21T00:00:00Z"}',  # 11
    b'{"sku_id": "X", "available_qty": -1, "reserved_qty": 0, "updated_at": "2026-11-21T00:00:00Z"}',  # DLQ
    # D is missing: unknown, never promoted.
]

# (event_id, customer, segment, recommendation, score) in processing order.
EXPECTED = [
    # c3, no profile; O2 (SHIPPED, 25.50) applied first on the tie: F=1, M=25.50, R=0.
    ("ev4", 3, "ACTIVE", [], 1 * 0.5 + 25.50 * 0.1),
    # c2: profile F=2 M=40 + O1 (PAID 60.00 on 11-22 > 11-20): F=3, M=100, R=23-22=1.
    ("ev2", 2, "ACTIVE", ["sku:A"], 3 * 0.5 + 100.0 * 0.1),
    # O1 refunded at the same instant, applied first: R = 3 + (24-20) = 7 -> not < 7.
    ("ev3", 2, "DORMANT", ["sku:C", "sku:A"], 2 * 0.5 + 40.0 * 0.1),
    # c1 VIP, but B has sellable 0: R = 30 + 5 = 35.
    ("ev0", 1, "DORMANT", [], 10 * 0.5 + 500.0 * 0.1),
    ("ev1", 1, "VIP_HIGH_INVENTORY", ["sku:E"], 55.0),  # E sellable 11 > 10
    ("ev7", 1, "VIP_HIGH_INVENTORY", ["sku:A", "sku:E"], 55.0),  # A 15 > 10
    ("ev8", 1, "DORMANT", ["sku:C", "sku:A", "sku:E"], 55.0),  # C 2; B unsellable
    # c3 search: its SKU is not a recommendation source; D unknown. R = 26-23 = 3.
    ("ev5", 3, "ACTIVE", [], 0.5 + 25.50 * 0.1),
    ("ev6", 4, "DORMANT", [], None),  # nothing known about c4
]


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture
def scenario(tmp_path: Path) -> dict[str, Path]:
    return {
        "events": write(tmp_path / "events.jsonl", EVENTS),
        "orders": write(tmp_path / "orders.jsonl", ORDERS),
        "profiles": write(tmp_path / "profiles.jsonl", PROFILES),
        "inventory": write(tmp_path / "inventory.jsonl", INVENTORY),
        "out": tmp_path / "out.jsonl",
        "dlq": tmp_path / "dlq.jsonl",
        "audit": tmp_path / "audit.jsonl",
    }


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_hand_built_scenario(scenario: dict[str, Path]) -> None:
    s = scenario
    stats = run_replay(
        s["events"], s["orders"], s["profiles"], s["inventory"], s["out"], s["dlq"], audit_path=s["audit"]
    )
    got = read_jsonl(s["out"])
    assert [(d["event_id"], d["customer_id"], d["segment"], d["recommendation"]) for d in got] == [
        e[:4] for e in EXPECTED
    ]
    for d, (_, _, _, _, score) in zip(got, EXPECTED, strict=True):
        assert d["score"] == score  # exact: the same float arithmetic
        assert d["logic_version"] == "v1"
        assert d["updated_at"] == d["event_time"]  # replay is deterministic: now = event time
    assert got[1]["event_time"] == "2026-11-23T12:00:00.000Z"
    assert got[2]["event_time"] == "2026-11-24T00:00:00.000Z"
    assert (got[1]["recency"], got[1]["frequency"], got[1]["monetary"]) == (1, 3, "100.00")

    assert (stats.events_read, stats.events_valid, stats.events_duplicate, stats.decisions) == (13, 10, 1, 9)
    assert (stats.orders_read, stats.orders_valid, stats.profiles_loaded, stats.inventory_loaded) == (
        5,
        4,
        2,
        4,
    )
    assert stats.dlq == 6
    assert stats.dlq_by_topic == {
        "behavior_events": 3,
        "orders_cdc": 1,
        "customer_profile": 1,
        "inventory_projection": 1,
    }

    dlq = [parse_dlq_record(line) for line in s["dlq"].read_bytes().splitlines()]
    records = [r.value for r in dlq if isinstance(r, Ok)]
    assert len(records) == 6
    assert {r.raw for r in records} >= {b"{", b"not json", ORDERS[-1], EVENTS[7], EVENTS[8]}
    assert all(r.reason for r in records)

    audits = read_jsonl(s["audit"])
    assert [a["event_id"] for a in audits] == [e[0] for e in EXPECTED]
    assert audits[4]["rule"] == "vip_and_event_sku_sellable_above_min"
    assert audits[4]["event_sku_sellable"] == 11
    assert audits[4]["profile_snapshot"] == "file:profiles.jsonl"
    assert audits[6]["candidates"] == [
        {"sku_id": s, "sellable": q} for s, q in [("C", 2), ("A", 15), ("E", 11), ("B", 0)]
    ]
    assert audits[0]["candidates"] == [{"sku_id": "D", "sellable": None}]


def test_replay_is_reproducible(scenario: dict[str, Path], tmp_path: Path) -> None:
    s = scenario
    run_replay(s["events"], s["orders"], s["profiles"], s["inventory"], s["out"], s["dlq"])
    again = tmp_path / "again.jsonl"
    run_replay(s["events"], s["orders"], s["profiles"], s["inventory"], again)
    assert again.read_bytes() == s["out"].read_bytes()


def test_without_dlq_path_invalid_lines_are_summarised_in_the_log(
    scenario: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    s = scenario
    with caplog.at_level(logging.WARNING, logger="persona.replay"):
        stats = run_replay(s["events"], s["orders"], s["profiles"], s["inventory"], s["out"])
    assert stats.dlq == 6 and stats.decisions == 9 and not s["dlq"].exists()
    err = caplog.text
    assert "6 invalid line(s)" in err and "behavior_events: 3" in err


def test_config_reaches_the_decisions(scenario: dict[str, Path]) -> None:
    s = scenario
    run_replay(
        s["events"],
        s["orders"],
        s["profiles"],
        s["inventory"],
        s["out"],
        config=LogicV1Config(logic_version="v2-test", active_max_recency_days=8, max_recommendations=1),
    )
    got = {d["event_id"]: d for d in read_jsonl(s["out"])}
    assert got["ev3"]["segment"] == "ACTIVE"  # recency 7 < 8
    assert got["ev8"]["recommendation"] == ["sku:C"]
    assert {d["logic_version"] for d in got.values()} == {"v2-test"}


def test_cli(scenario: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from persona.cli import replay_cmd

    parser = argparse.ArgumentParser(prog="persona")
    replay_cmd.register(parser.add_subparsers(dest="command", required=True))
    s = scenario
    args = parser.parse_args(
        [
            "replay",
            "--events",
            str(s["events"]),
            "--orders",
            str(s["orders"]),
            "--profiles",
            str(s["profiles"]),
            "--inventory",
            str(s["inventory"]),
            "--out",
            str(s["out"]),
            "--dlq",
            str(s["dlq"]),
        ]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "events read 13" in out and "decisions 9" in out and "dlq 6" in out and "elapsed" in out
    assert len(read_jsonl(s["out"])) == 9

    args = parser.parse_args(
        [
            "replay",
            "--events",
            str(s["events"]) + ".missing",
            "--orders",
            str(s["orders"]),
            "--profiles",
            str(s["profiles"]),
            "--inventory",
            str(s["inventory"]),
            "--out",
            str(s["out"]),
        ]
    )
    assert args.func(args) == 2
    assert "not found" in capsys.readouterr().err
