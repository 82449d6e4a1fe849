"""`persona chaos --quick` on the real stack: flows killed under load and a poison batch, every
invariant checked against replay; the command exits 0 only when every row holds them."""

from __future__ import annotations

import pytest

from persona.chaos.rows import QUICK
from persona.cli.main import main
from persona.localstack import StackSettings

pytestmark = pytest.mark.integration


def test_chaos_quick_holds_every_invariant(stack: StackSettings, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["chaos", "--quick"])
    out = capsys.readouterr().out
    for row in QUICK:
        assert row in out, out
    assert code == 0, out
    assert f"{len(QUICK)}/{len(QUICK)} rows passed" in out
