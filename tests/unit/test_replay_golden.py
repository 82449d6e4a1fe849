"""Golden regression: `run_replay` over shared/golden/replay-v1 reproduces expected.jsonl (see its README).

shared/ is located at ``<repo root>/../shared`` or by ``PERSONA_SHARED``. A missing golden set is a failure,
not a skip: silently not checking the decision logic is worse than a red test.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from persona.replay import run_replay

REPO_ROOT = Path(__file__).resolve().parents[2]


def golden_dir() -> Path:
    shared = Path(os.environ.get("PERSONA_SHARED") or REPO_ROOT.parent / "shared")
    golden = shared / "golden" / "replay-v1"
    names = ("events.jsonl", "orders.jsonl", "profiles.jsonl", "inventory.jsonl", "expected.jsonl")
    missing = [n for n in names if not (golden / n).is_file()]
    if missing:
        pytest.fail(f"golden scenario incomplete at {golden} (missing {missing}); set PERSONA_SHARED")
    return golden


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_golden_replay_v1(tmp_path: Path) -> None:
    golden = golden_dir()
    out = tmp_path / "decisions.jsonl"
    stats = run_replay(
        golden / "events.jsonl",
        golden / "orders.jsonl",
        golden / "profiles.jsonl",
        golden / "inventory.jsonl",
        out,
        tmp_path / "dlq.jsonl",
    )
    expected = read_jsonl(golden / "expected.jsonl")
    got = read_jsonl(out)
    assert stats.decisions == len(got)

    exp_by_id = {e["event_id"]: e for e in expected}
    got_by_id = {g["event_id"]: g for g in got}
    assert len(got_by_id) == len(got), "an event id was decided twice"
    assert set(got_by_id) == set(exp_by_id), (
        f"missing {sorted(set(exp_by_id) - set(got_by_id))[:10]}, extra {sorted(set(got_by_id) - set(exp_by_id))[:10]}"
    )
    mismatches = []
    for event_id, e in exp_by_id.items():
        g = got_by_id[event_id]
        score_ok = (
            g["score"] is None
            if e["score"] is None
            else g["score"] is not None and math.isclose(g["score"], e["score"], rel_tol=0, abs_tol=1e-6)
        )
        if not (
            score_ok
            and g["segment"] == e["segment"]
            and g["recommendation"] == e["recommendation"]
            and g["customer_id"] == e["customer_id"]
        ):
            mismatches.append((e, {k: g[k] for k in e}))
    assert not mismatches, f"{len(mismatches)} decisions differ, first: {mismatches[:3]}"
    # Processing order is part of the contract too (README: "in processing order").
    assert [g["event_id"] for g in got] == [e["event_id"] for e in expected]
