"""persona.kafka: the one adapter to Kafka (confluent-kafka) outside the Bytewax connectors.

Producers and consumers for the generator, the demo, tests and benchmarks (consumer lag comes from
each flow's Bytewax recovery store: persona.pipeline.runner.committed_input_offsets).
Topic names are contracts of DESIGN §3 and live in ``topics``.
"""

from persona.kafka.client import (
    ConsumedRecord,
    end_offsets,
    make_producer,
    produce_all,
    read_topic,
)
from persona.kafka.topics import Topics

__all__ = [
    "ConsumedRecord",
    "Topics",
    "end_offsets",
    "make_producer",
    "produce_all",
    "read_topic",
]
