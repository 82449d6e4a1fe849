"""The flows a bench run starts, and what the bench needs to know of each: its name, the Kafka
topics it reads and the id of its input step in the recovery store (where its lag is read).

This is the one place the bench spells flow names, dataflow ids and input topics. The stand-in
below has the attributes of ``persona.flows.common.spec.FlowSpec`` that the bench uses; when
each flow exports its ``SPEC`` (``persona.flows.<name>.spec``), the three constants become those
specs and the stand-in class goes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from persona.contracts import Topics


@dataclass(frozen=True)
class FlowSpec:
    name: str
    dataflow_id: str
    inputs: Callable[[Topics], tuple[str, ...]]
    input_step: str = "in"

    @property
    def input_step_id(self) -> str:
        return f"{self.dataflow_id}.{self.input_step}"


CDC = FlowSpec("cdc", "persona_cdc", lambda t: (t.orders_cdc,))
ENRICH = FlowSpec(
    "enrich", "persona_enrich", lambda t: (t.behavior_events, t.order_facts, t.inventory_changes)
)
SINK = FlowSpec("sink", "persona_sink", lambda t: (t.segment_decisions,))

FLOWS: tuple[FlowSpec, ...] = (CDC, ENRICH, SINK)
FLOW_NAMES: tuple[str, ...] = tuple(f.name for f in FLOWS)


def spec_of(name: str) -> FlowSpec:
    return next(f for f in FLOWS if f.name == name)
