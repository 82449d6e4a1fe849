"""Wiring of the sink flow and the Paimon sink.

Each polled batch of ``segment_decisions`` messages becomes one Arrow table of audit rows
(``persona.flows.sink.rows.decisions_table``), appended to ``segment_decisions`` and, at each
commit, reduced to the newest version per customer for ``marketing_segments``. The Paimon writers
commit at the end of each Bytewax epoch (the runner's ``-s`` is the commit interval) and on a clean
close, never on a clock of their own: Bytewax makes an epoch's input offsets durable only after
every sink partition has snapshotted, so a resume never skips rows that were not committed (it may
re-send some, and the newest version of a customer still wins).
"""

from __future__ import annotations

from typing import Any

import bytewax.operators as op
import pyarrow as pa
import pyarrow.compute as pc
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import FixedPartitionedSink, Sink, StatefulSinkPartition

from persona.contracts import DecisionEnvelope, DecisionsDecodeError, decode_decisions
from persona.flows.common.process import prepare_flow_process
from persona.flows.common.wiring import batch_sink, raw_source
from persona.flows.sink.rows import conform, decisions_table
from persona.flows.sink.spec import SPEC
from persona.kafka.bytewax_io import OutRecord, RawBatch, dead_letter
from persona.paimon import PaimonWarehouse, TableWriter
from persona.settings import PipelineSettings


def latest_segments(decisions: pa.Table, schema: pa.Schema) -> pa.Table:
    """``marketing_segments`` upserts from decision rows: the newest version of each customer (the
    later row among equal versions, as a replay after recovery re-sends them), as that table's rows."""
    if decisions.num_rows == 0:
        return conform({}, schema, 0)
    customers = decisions.column("customer_id")
    # sort_indices is a stable sort: ties in (customer, version) keep their arrival order, so the
    # later of two equal versions (a replay) is the last of its group.
    order = pc.sort_indices(
        pa.table({"c": customers, "v": decisions.column("version")}),
        sort_keys=[("c", "ascending"), ("v", "ascending")],
    )
    ordered = decisions.take(order)
    ids = ordered.column("customer_id").combine_chunks()
    last = pc.not_equal(ids.slice(0, len(ids) - 1), ids.slice(1))
    keep = pa.concat_arrays([last, pa.array([True])])
    newest = ordered.filter(keep)
    return conform(
        {
            "customer_id": newest.column("customer_id"),
            "segment": newest.column("segment"),
            "recommendation": newest.column("recommendation"),
            "score": newest.column("score"),
            # A decision's row is updated when it is decided.
            "updated_at": newest.column("decided_at"),
            "event_time": newest.column("event_time"),
            "logic_version": newest.column("logic_version"),
            "version": newest.column("version"),
        },
        schema,
        newest.num_rows,
    )


class _PaimonPartition(StatefulSinkPartition[list[DecisionEnvelope], None]):
    def __init__(self, settings: PipelineSettings, commit_user: str) -> None:
        warehouse = PaimonWarehouse(settings.warehouse)
        self._segments = TableWriter(warehouse, settings.table("marketing_segments"), commit_user)
        self._audit = TableWriter(warehouse, settings.table("segment_decisions"), commit_user)
        # Decision rows since the last commit; their newest version per customer is the upsert.
        self._pending: list[pa.Table] = []
        self.commits = 0

    def write_batch(self, values: list[list[DecisionEnvelope]]) -> None:
        for envs in values:
            table = decisions_table(envs, self._audit.schema)
            self._audit.add_arrow(table)
            self._pending.append(table)

    def _commit(self) -> None:
        if self._pending:
            decisions = pa.concat_tables(self._pending, promote_options="default")
            self._segments.add_arrow(latest_segments(decisions, self._segments.schema))
            self._pending = []
        seg = self._segments.commit()
        aud = self._audit.commit()
        if seg or aud:
            self.commits += 1

    def snapshot(self) -> None:
        # The epoch ends: publish everything it wrote, so a resume never skips uncommitted rows.
        self._commit()

    def close(self) -> None:
        try:
            self._commit()
        finally:
            self._segments.close()
            self._audit.close()


class PaimonSink(FixedPartitionedSink[list[DecisionEnvelope], None]):
    """One partition: one writer per table and one commit sequence (commit user ``persona-sink``)."""

    def __init__(self, settings: PipelineSettings, commit_user: str = "persona-sink") -> None:
        self._settings = settings
        self._commit_user = commit_user

    def list_parts(self) -> list[str]:
        return ["paimon"]

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _PaimonPartition:
        return _PaimonPartition(self._settings, self._commit_user)


def parse(settings: PipelineSettings, batch: RawBatch) -> list[tuple[str, Any]]:
    """One polled batch -> ``("paimon", [decisions])`` and ``("dlq", [records])``."""
    envs: list[DecisionEnvelope] = []
    dlq: list[OutRecord] = []
    for key, value in batch.records:
        try:
            envs.extend(decode_decisions(value or b""))
        except DecisionsDecodeError as error:
            dlq.append(dead_letter(settings.topics.segment_decisions, key, value, str(error)))
    out: list[tuple[str, Any]] = []
    if envs:
        out.append(("paimon", envs))
    if dlq:
        out.append(("dlq", dlq))
    return out


def build_flow(
    settings: PipelineSettings | None = None,
    source: Source[Any] | None = None,
    sink: Sink[Any] | None = None,
    *,
    paimon_sink: Sink[Any] | None = None,
) -> Dataflow:
    settings = settings or PipelineSettings.from_env()
    if paimon_sink is None:
        paimon_sink = PaimonSink(settings)
    flow = Dataflow(SPEC.dataflow_id)
    inputs = list(SPEC.inputs(settings.topics))
    batches = op.input(SPEC.input_step, flow, source or raw_source(settings, inputs, SPEC.name))
    parsed = op.flat_map("parse", batches, lambda batch: parse(settings, batch))
    split = op.branch("split_dlq", parsed, lambda item: item[0] == "dlq")
    op.output("dlq", split.trues, sink or batch_sink(settings))
    op.output("paimon", split.falses, paimon_sink)
    if source is None:
        prepare_flow_process()
    return flow
