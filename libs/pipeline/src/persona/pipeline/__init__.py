"""persona.pipeline: what the three flows share — settings, the internal messages between them,
Kafka source/sink wiring with dead-letter routing, and the Paimon-backed profile store.

Imported by the flows and tools; it runs nothing itself and reads no environment at import.
"""

from persona.pipeline.messages import (
    DecisionEnvelope,
    DecisionsDecodeError,
    decisions_table,
    decode_decisions,
    encode_decisions,
)
from persona.pipeline.settings import PipelineSettings

__all__ = [
    "DecisionEnvelope",
    "DecisionsDecodeError",
    "PipelineSettings",
    "decisions_table",
    "decode_decisions",
    "encode_decisions",
]
