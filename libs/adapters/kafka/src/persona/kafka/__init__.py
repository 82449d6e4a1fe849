"""persona.kafka: the one adapter to Kafka (confluent-kafka).

``client``: producers, consumers and offsets for the generator, the demo, tests and benchmarks.
``bytewax_io``: the flows' batch-granular Bytewax source and sink, and dead letters (imported
explicitly: it needs Bytewax). Topic names are contracts of DESIGN §3 (``persona.contracts.Topics``).
"""

from persona.kafka.client import (
    ConsumedRecord,
    end_offsets,
    make_producer,
    produce,
    produce_all,
    read_topic,
)

__all__ = [
    "ConsumedRecord",
    "end_offsets",
    "make_producer",
    "produce",
    "produce_all",
    "read_topic",
]
