"""`persona chaos --quick` on the real stack: flows killed under load (each under the supervisor
`persona run` uses; enrich at random and mid-merge) and the poison row, every invariant checked against replay. The exit code says
whether every row held every invariant; the test reads the rows' JSON too, so a row that is reported
but not checked, or a poison kind left out, cannot pass."""

from __future__ import annotations

import json

import pytest

from persona.chaos.inputs import START_MS, poison_cases
from persona.chaos.rows import QUICK
from persona.cli.main import main
from persona.localstack import StackSettings

pytestmark = pytest.mark.integration


def test_chaos_quick_holds_every_invariant(stack: StackSettings, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["chaos", "--quick", "--json"])
    out = capsys.readouterr().out
    results = {r["row"]: r for r in json.loads(out)}
    assert set(results) == set(QUICK), out
    for name, r in results.items():
        v = r["verdict"]
        assert r["ok"] and not v["failures"], (name, v["failures"])
        assert v["lost"] == 0 and v["extra"] == 0 and v["unsellable_promoted"] == 0, (name, v)
        # Replay decides all but the invalid events; the audit holds exactly those.
        assert 0 < v["decided"] <= v["events"], (name, v)
        assert r["drained_s"] is not None, name
    for name in ("kill-enrich", "kill-enrich-mid-merge", "kill-sink"):
        assert results[name]["restarts"] >= 1, results[name]  # the kill happened, the supervisor restarted it
    # Both merges were hit: the child alone (enrich went on), then enrich with its next merge running.
    assert (
        "enrich went on (merge counted failed); enrich killed while merge"
        in results["kill-enrich-mid-merge"]["note"]
    )
    cases = {c["kind"]: c for c in results["poison"]["verdict"]["cases"]}
    assert set(cases) == {case.kind for case, _ in poison_cases(START_MS)}
    assert all(c["ok"] for c in cases.values()), cases
    assert code == 0, out
