"""How flows are launched (pure: the command line, no process started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from persona.pipeline.runner import flow_command


def test_flow_command_runs_the_factory_with_recovery_and_whole_second_snapshots() -> None:
    cmd = flow_command("enrich", Path("/r"), 2.5)
    assert cmd[1:4] == ["-m", "bytewax.run", "persona.flows.enrich:build_flow()"]
    assert cmd[cmd.index("-r") + 1] == "/r"
    assert cmd[cmd.index("-s") + 1] == "3"
    assert flow_command("sink", Path("/r"), 0.2)[-3] == "1"


def test_unknown_flow_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown flow 'nope'"):
        flow_command("nope", Path("/r"), 1)
