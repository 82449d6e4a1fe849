"""Each flow's spec: importable without Bytewax, and what its ``build_flow`` actually builds."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
from bytewax.testing import TestingSink, TestingSource

from persona.contracts import Topics
from persona.flows.cdc.spec import SPEC as CDC
from persona.flows.enrich.spec import SPEC as ENRICH
from persona.flows.sink.spec import SPEC as SINK
from persona.settings import PipelineSettings


@pytest.mark.parametrize("flow", ["cdc", "enrich", "sink"])
def test_the_spec_imports_without_bytewax_and_the_package_still_has_build_flow(flow: str) -> None:
    probe = f"import sys, persona.flows.{flow}.spec; print('bytewax' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
    package = importlib.import_module(f"persona.flows.{flow}")
    flow_module = importlib.import_module(f"persona.flows.{flow}.flow")
    # What `python -m bytewax.run "persona.flows.<flow>:build_flow()"` looks up.
    assert package.build_flow is flow_module.build_flow
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = package.nope


def test_specs_name_the_flows_their_inputs_and_their_recovery_step() -> None:
    topics = Topics.with_prefix("t_")
    assert (CDC.name, CDC.dataflow_id, CDC.inputs(topics)) == ("cdc", "persona_cdc", ("t_orders_cdc",))
    assert (SINK.name, SINK.dataflow_id, SINK.inputs(topics)) == (
        "sink",
        "persona_sink",
        ("t_segment_decisions",),
    )
    assert (ENRICH.name, ENRICH.dataflow_id) == ("enrich", "persona_enrich")
    assert ENRICH.inputs(topics) == (
        "t_behavior_events",
        "t_order_facts",
        "t_inventory_changes",
        "t_erasures",
    )
    assert [s.input_step_id for s in (CDC, ENRICH, SINK)] == [
        "persona_cdc.in",
        "persona_enrich.in",
        "persona_sink.in",
    ]
    assert [s.factory for s in (CDC, SINK)] == [
        "persona.flows.cdc:build_flow()",
        "persona.flows.sink:build_flow()",
    ]


def test_cdc_and_sink_build_the_dataflow_their_spec_names() -> None:
    from persona.flows import cdc, sink

    settings = PipelineSettings()
    built = [
        (CDC, cdc.build_flow(settings, TestingSource([]), TestingSink([]))),
        (SINK, sink.build_flow(settings, TestingSource([]), TestingSink([]), paimon_sink=TestingSink([]))),
    ]
    for spec, flow in built:
        assert flow.flow_id == spec.dataflow_id
        assert flow.substeps[0].step_id == spec.input_step_id
