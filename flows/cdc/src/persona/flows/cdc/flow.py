"""Wiring of the cdc flow: one polled batch of ``orders_cdc`` -> one item of order facts and dead letters."""

from __future__ import annotations

import time
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import Sink

from persona.contracts import Err, order_fact_to_debezium_json, parse_order_changes
from persona.flows.cdc.spec import SPEC
from persona.flows.common.metrics import FlowMetrics, dlq_reason
from persona.flows.common.observability import start_observability
from persona.flows.common.process import prepare_flow_process
from persona.flows.common.wiring import batch_sink, raw_source
from persona.kafka.bytewax_io import OutRecord, RawBatch, dead_letter
from persona.settings import PipelineSettings


def normalize(
    settings: PipelineSettings, batch: RawBatch, metrics: FlowMetrics | None = None
) -> list[tuple[str, list[OutRecord]]]:
    """The order facts and dead letters of one polled batch, as one output item.

    An order moved to another customer gives two facts (``parse_order_changes``): the old customer's
    retraction and the new customer's row, each keyed by its customer. ``metrics``: where the batch's
    counts go (once per batch).
    """
    topic = settings.topics.orders_cdc
    facts_topic = settings.topics.order_facts
    window = settings.time_window
    now_ms = int(time.time() * 1000)  # once per batch: the plausibility window's "now"
    out: list[OutRecord] = []
    reasons: dict[str, int] = {}
    for key, value in batch.records:
        if value is None:
            # Debezium follows a delete with a tombstone (null value) for log compaction.
            continue
        result = parse_order_changes(value, window, now_ms)
        if isinstance(result, Err):
            out.append(dead_letter(topic, key, value, result.reason))
            reason = dlq_reason(result.reason)
            reasons[reason] = reasons.get(reason, 0) + 1
            continue
        for fact in result.value:
            out.append((facts_topic, str(fact.customer_id).encode(), order_fact_to_debezium_json(fact)))
    if metrics is not None and metrics.enabled:
        dead = sum(reasons.values())
        metrics.events_in(topic, len(batch))
        metrics.events_out({facts_topic: len(out) - dead})
        metrics.dead_letters(topic, reasons)
    return [("out", out)] if out else []


def build_flow(
    settings: PipelineSettings | None = None,
    source: Source[Any] | None = None,
    sink: Sink[Any] | None = None,
) -> Dataflow:
    settings = settings or PipelineSettings.from_env()
    # The flow process's metrics and health endpoint; a flow under test (its own source) has none.
    metrics = start_observability(SPEC, settings).metrics if source is None else None
    flow = Dataflow(SPEC.dataflow_id)
    inputs = list(SPEC.inputs(settings.topics))
    batches = op.input(SPEC.input_step, flow, source or raw_source(settings, inputs, SPEC.name))
    out = op.flat_map("normalize", batches, lambda batch: normalize(settings, batch, metrics))
    op.output("out", out, sink or batch_sink(settings))
    if source is None:
        prepare_flow_process()
    return flow
