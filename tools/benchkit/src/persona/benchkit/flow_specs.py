"""The flows a bench run starts, in start order, from the specs the flows export."""

from __future__ import annotations

from persona.flows.cdc.spec import SPEC as CDC
from persona.flows.common.spec import FlowSpec
from persona.flows.enrich.spec import SPEC as ENRICH
from persona.flows.sink.spec import SPEC as SINK

FLOWS: tuple[FlowSpec, ...] = (CDC, ENRICH, SINK)
FLOW_NAMES: tuple[str, ...] = tuple(f.name for f in FLOWS)


def spec_of(name: str) -> FlowSpec:
    return next(f for f in FLOWS if f.name == name)


__all__ = ["CDC", "ENRICH", "FLOWS", "FLOW_NAMES", "SINK", "FlowSpec", "spec_of"]
