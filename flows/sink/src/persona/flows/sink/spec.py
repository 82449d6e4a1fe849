"""What the sink flow tells the runner, the demo and the bench (no Bytewax, no flow code)."""

from persona.flows.common.spec import FlowSpec

SPEC = FlowSpec(
    name="sink",
    dataflow_id="persona_sink",
    factory="persona.flows.sink:build_flow()",
    inputs=lambda topics: (topics.segment_decisions,),
)
