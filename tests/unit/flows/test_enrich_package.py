"""What ``persona.flows.enrich`` offers its importers: names loaded on first use, so a module of the
package that needs no Bytewax imports without it, and snapshots Bytewax stored under the class's
earlier module path still restore."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest
from test_enrich_redecide import SETTINGS, _event, _run, _shard
from test_flows_golden import DictInventory

from persona.flows import enrich
from persona.flows.enrich import flow, state


def test_importing_the_package_imports_no_bytewax() -> None:
    code = "import sys, persona.flows.enrich, persona.flows.enrich.state; sys.exit('bytewax' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_the_package_names_are_those_of_their_modules() -> None:
    assert enrich.build_flow is flow.build_flow
    assert enrich.ShardSnapshot is state.ShardSnapshot
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = enrich.nothing  # type: ignore[attr-defined]


def test_a_snapshot_pickled_under_the_flow_module_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    shard = _shard(DictInventory({"A": 4}))
    _run(shard, _event("e-1", 7, "A", 1))
    with monkeypatch.context() as m:
        m.setattr(state.ShardSnapshot, "__module__", "persona.flows.enrich.flow")
        stored = pickle.dumps(shard.snapshot())
    assert b"persona.flows.enrich.flow" in stored
    restored = _shard(DictInventory({"A": 4}), pickle.loads(stored))
    assert restored.customers == shard.customers and SETTINGS.enrich_shards == pickle.loads(stored).shards
