"""The cdc flow: Debezium ``orders_cdc`` envelopes -> normalized order facts keyed by customer_id.

    python -m bytewax.run "persona.flows.cdc:build_flow()"

Order facts go to ``order_facts`` (keyed by customer_id, so the enrich flow's customer partitioning
holds); each is the same Debezium shape, normalized (one row, ``before`` for deletes). Duplicates are
harmless: the enrich flow keeps the latest change per order id. Bad envelopes go to
``orders_cdc.dlq`` with the reason and the original bytes.
"""

from __future__ import annotations

from typing import Any

import bytewax.operators as op
from bytewax.connectors.kafka import KafkaSinkMessage, KafkaSourceMessage
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import Sink

from persona.contracts import Err, order_fact_to_debezium_json, parse_order_change
from persona.pipeline import PipelineSettings
from persona.pipeline.kafka_wiring import RawMessage, dead_letter, kafka_sink, kafka_source

SourceItem = KafkaSourceMessage[bytes | None, bytes | None]


def normalize(settings: PipelineSettings, msg: SourceItem) -> RawMessage:
    """One Debezium envelope -> its order fact on ``order_facts``, or a dead letter."""
    result = parse_order_change(msg.value or b"")
    if isinstance(result, Err):
        return dead_letter(settings.topics.orders_cdc, msg.key, msg.value, result.reason)
    fact = result.value
    return KafkaSinkMessage(
        key=str(fact.customer_id).encode(),
        value=order_fact_to_debezium_json(fact),
        topic=settings.topics.order_facts,
    )


def build_flow(
    settings: PipelineSettings | None = None,
    source: Source[Any] | None = None,
    sink: Sink[Any] | None = None,
) -> Dataflow:
    settings = settings or PipelineSettings.from_env()
    flow = Dataflow("persona_cdc")
    # Step ids are part of the recovery contract: every flow's Kafka input is "in".
    messages = op.input("in", flow, source or kafka_source(settings, [settings.topics.orders_cdc], "cdc"))
    # Debezium follows a delete with a tombstone (null value) for log compaction: nothing to normalize.
    changes = op.filter("skip_tombstones", messages, lambda m: m.value is not None)
    out = op.map("normalize", changes, lambda m: normalize(settings, m))
    op.output("out", out, sink or kafka_sink(settings))
    return flow
