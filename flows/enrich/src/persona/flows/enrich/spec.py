"""What the enrich flow tells the runner, the demo and the bench (no Bytewax, no flow code)."""

from persona.flows.common.spec import FlowSpec

SPEC = FlowSpec(
    name="enrich",
    dataflow_id="persona_enrich",
    factory="persona.flows.enrich:build_flow()",
    inputs=lambda topics: (
        topics.behavior_events,
        topics.order_facts,
        topics.inventory_changes,
        topics.erasures,
    ),
)
