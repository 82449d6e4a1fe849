"""The flows a bench run starts, in pipeline order: the runner's registry of flow specs."""

from __future__ import annotations

from persona.flows.common.spec import FlowSpec
from persona.localstack.runner import FLOWS as _BY_NAME
from persona.localstack.runner import flow_spec as spec_of

FLOWS: tuple[FlowSpec, ...] = tuple(_BY_NAME.values())
FLOW_NAMES: tuple[str, ...] = tuple(_BY_NAME)
CDC, ENRICH, SINK = (_BY_NAME[name] for name in ("cdc", "enrich", "sink"))

__all__ = ["CDC", "ENRICH", "FLOWS", "FLOW_NAMES", "SINK", "FlowSpec", "spec_of"]
