"""Row selection and the table `persona chaos` prints."""

from __future__ import annotations

import pytest

from persona.chaos.invariants import Verdict
from persona.chaos.rows import QUICK, ROWS, select
from persona.chaos.table import HEADER, RowResult, render


def test_rows_are_named_once_and_quick_is_a_subset() -> None:
    names = [r.name for r in ROWS]
    assert len(names) == len(set(names))
    assert set(QUICK) <= set(names)
    assert [r.name for r in select(quick=True)] == [n for n in names if n in QUICK]
    assert select(quick=False) == list(ROWS)


def test_only_selects_in_matrix_order_and_rejects_unknown_rows() -> None:
    assert [r.name for r in select(quick=True, only=["poison", "kill-cdc"])] == ["kill-cdc", "poison"]
    with pytest.raises(ValueError, match="no-such-row"):
        select(quick=False, only=["no-such-row"])


def test_the_matrix_covers_the_issues_faults() -> None:
    kinds = {r.kind for r in ROWS}
    assert {"kill_flow", "kill_kafka", "kafka_down", "kill_cassandra", "disk_full", "commit_fails"} <= kinds
    assert {"corrupt_state", "poison"} <= kinds
    killed = {(r.flow, r.moment) for r in ROWS if r.kind == "kill_flow"}
    assert {
        ("cdc", "random"),
        ("enrich", "random"),
        ("sink", "random"),
        ("sink", "between_commits"),
    } <= killed


def test_render_shows_every_row_and_each_failure() -> None:
    good = RowResult("kill-sink", Verdict(100, 90, 0, 0, 3, 2, 0), 1.25, 9.5, 1)
    bad = RowResult(
        "poison", Verdict(100, 80, 10, 0, 0, 2, 0, failures=("10 decisions missing",)), None, None, 4, "x"
    )
    text = render([good, bad])
    lines = text.splitlines()
    assert all(h in lines[0] for h in HEADER)
    assert "kill-sink" in lines[2] and "1.2s" in lines[2] and "9.5s" in lines[2] and lines[2].endswith("ok |")
    assert "poison" in lines[3] and "FAIL" in lines[3] and " - " in lines[3]
    assert "- poison FAILED: 10 decisions missing" in text
    assert "- poison: x" in text
    assert bad.to_json()["ok"] is False and good.to_json()["verdict"]["duplicated"] == 3


def test_the_merge_hook_reads_the_variable_the_row_sets() -> None:
    from persona.chaos.faults import MERGE_MIN_BYTES, merge_hook_env
    from persona.chaos.merge_hook import HOOK_DIR, VARIABLE, sitecustomize

    assert sitecustomize.VARIABLE == VARIABLE
    env = merge_hook_env()
    assert env[VARIABLE] == str(MERGE_MIN_BYTES)
    assert env["PYTHONPATH"].split(":")[0] == str(HOOK_DIR) and (HOOK_DIR / "sitecustomize.py").is_file()
    assert any(r.moment == "mid_merge" and r.flow == "enrich" for r in ROWS)
