"""What the cdc flow tells the runner, the demo and the bench (no Bytewax, no flow code)."""

from persona.flows.common.spec import FlowSpec

SPEC = FlowSpec(
    name="cdc",
    dataflow_id="persona_cdc",
    factory="persona.flows.cdc:build_flow()",
    inputs=lambda topics: (topics.orders_cdc,),
)
