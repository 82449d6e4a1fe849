"""`persona generate files` writes a seeded scenario that `persona replay` runs; the same seed gives
the same bytes."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from persona.cli.main import main


def _run(tmp: Path, seed: int) -> dict[str, bytes]:
    assert (
        main(
            [
                "generate",
                "files",
                "--out",
                str(tmp),
                "--seed",
                str(seed),
                "--records",
                "2000",
                "--customers",
                "100",
                "--skus",
                "50",
            ]
        )
        == 0
    )
    return {p.name: p.read_bytes() for p in sorted(tmp.glob("*.jsonl"))}


def test_generated_scenario_is_deterministic_and_replays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _run(tmp_path / "a", 3)
    assert first == _run(tmp_path / "b", 3)
    assert first != _run(tmp_path / "c", 4)
    assert set(first) == {"events.jsonl", "orders.jsonl", "profiles.jsonl", "inventory.jsonl"}
    capsys.readouterr()
    a = tmp_path / "a"
    out = tmp_path / "decisions.jsonl"
    code = main(
        [
            "replay",
            "--events",
            str(a / "events.jsonl"),
            "--orders",
            str(a / "orders.jsonl"),
            "--profiles",
            str(a / "profiles.jsonl"),
            "--inventory",
            str(a / "inventory.jsonl"),
            "--out",
            str(out),
            "--dlq",
            str(tmp_path / "dlq.jsonl"),
        ]
    )
    assert code == 0
    decisions = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    events = first["events.jsonl"].count(b"\n")
    dlq = (tmp_path / "dlq.jsonl").read_bytes().count(b"\n")
    assert 0 < len(decisions) <= events - dlq
    assert {d["segment"] for d in decisions} <= {"VIP_HIGH_INVENTORY", "ACTIVE", "DORMANT"}
