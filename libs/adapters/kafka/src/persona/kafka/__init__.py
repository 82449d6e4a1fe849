"""persona.kafka: the one adapter to Kafka (confluent-kafka); nothing else of persona imports it.

``producers``: producers and the back-pressure ``produce`` every producer uses. ``consumers``:
reading, following and draining topics, and end offsets, for the tools. ``admin``: creating,
describing and deleting topics, and the health probe. ``bytewax_io``: the flows' batch-granular
Bytewax source and sink, and dead letters (imported explicitly: it needs Bytewax). Topic names are
contracts of DESIGN §3 (``persona.contracts.Topics``).
"""

from persona.kafka.admin import COMPACTED, ClusterInfo, KafkaAdmin, KafkaAdminError, topic_configs
from persona.kafka.consumers import (
    ConsumedRecord,
    DrainedBatch,
    EndOffsets,
    drain,
    end_offsets,
    read_topic,
    tail_values,
)
from persona.kafka.producers import make_producer, produce, produce_all

__all__ = [
    "COMPACTED",
    "ClusterInfo",
    "ConsumedRecord",
    "DrainedBatch",
    "EndOffsets",
    "KafkaAdmin",
    "KafkaAdminError",
    "drain",
    "end_offsets",
    "make_producer",
    "produce",
    "produce_all",
    "read_topic",
    "tail_values",
    "topic_configs",
]
