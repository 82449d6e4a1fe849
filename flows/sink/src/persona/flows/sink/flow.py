"""Wiring of the sink flow and the Paimon sink.

Each polled batch of ``segment_decisions`` messages becomes one Arrow table of audit rows
(``persona.flows.sink.rows.audit_rows``) in the flow's ``parse`` step, appended to
``segment_decisions`` and, at each commit, reduced to the newest version per customer for
``marketing_segments``.

Nothing a message holds can stop the flow: a message that does not decode, and a decision whose values
the audit table cannot hold (``rows.audit_rows`` finds it among the batch's), go to
``segment_decisions.dlq`` as dead letters (the decision re-encoded alone, so it can be replayed once
fixed) through the flow's Kafka sink; every other decision of the batch is written.

What cannot be written for a reason that is not a record's (Paimon I/O, a full disk) fails the flow
before the epoch's input offsets become durable, so a restart replays the epoch:

1. The Paimon writers commit at the end of each Bytewax epoch (the sink's ``snapshot``; the runner's
   ``-s`` is the commit interval) and on a clean close, never on a clock of their own. Bytewax makes
   an epoch's input offsets durable only after every sink partition (this one and the dead letters'
   Kafka sink) has snapshotted without error, so a resume never skips rows that were not committed.
2. In one snapshot ``marketing_segments`` is committed first, then ``segment_decisions``. If the second
   commit fails, the flow dies with the first one done: the resume replays the epoch, which writes the
   same upserts again (the newest version per customer: the same rows) and the audit rows it lacked.
   Both tables have primary keys (customer_id; event_id), so rows written twice are one row; no half
   state loses a row, and none is read as final by the flow itself.

Schema evolution: at each commit the sink compares each table's newest schema with its writer's; when
a column was added (``persona schema add-column``), the writer is reopened on the new schema after the
commit, so later rows fill the column wherever the decisions carry it (null otherwise), without a restart.

GDPR erasure: a relayed erasure request (``ERASURE_MARKER`` on ``segment_decisions``, after the
customer's earlier decisions) commits what is pending, deletes the customer's rows from
``marketing_segments``, ``segment_decisions`` and ``customer_profile``, reopens the writers (so a later
comeback's rows win over the deletes), and records the erasure in ``erasures`` (docs/erasure.md).
Replayed after a crash, it deletes again and rewrites the same record (keyed by ``erasure_id``).
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_right
from typing import Any

import bytewax.operators as op
import msgspec
import pyarrow as pa
import pyarrow.compute as pc
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import FixedPartitionedSink, Sink, StatefulSinkPartition

from persona.contracts import (
    ERASURE_MARKER,
    DecisionEnvelope,
    DecisionsDecodeError,
    ErasureRequest,
    Err,
    decode_decisions,
    encode_decisions,
    parse_erasure_request,
)
from persona.flows.common.metrics import FlowMetrics, dlq_reason
from persona.flows.common.observability import start_observability
from persona.flows.common.process import prepare_flow_process
from persona.flows.common.wiring import batch_sink, raw_source
from persona.flows.sink.instrumentation import CommitMetrics
from persona.flows.sink.rows import audit_rows, conform
from persona.flows.sink.spec import SPEC
from persona.kafka.bytewax_io import OutRecord, RawBatch, dead_letter
from persona.paimon import (
    SEGMENT_DECISIONS,
    PaimonWarehouse,
    TableWriter,
    check_primary_key,
    erase_customer,
)
from persona.settings import PipelineSettings, kv

log = logging.getLogger(__name__)


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
    columns = {
        "customer_id": newest.column("customer_id"),
        "segment": newest.column("segment"),
        "recommendation": newest.column("recommendation"),
        "score": newest.column("score"),
        # A decision's row is updated when it is decided.
        "updated_at": newest.column("decided_at"),
        "event_time": newest.column("event_time"),
        "logic_version": newest.column("logic_version"),
        "version": newest.column("version"),
    }
    # Columns added to marketing_segments by schema evolution: filled where the decisions carry them.
    for name in schema.names:
        if name not in columns and name in newest.column_names:
            columns[name] = newest.column(name)
    return conform(columns, schema, newest.num_rows)


class _PaimonPartition(StatefulSinkPartition[pa.Table | ErasureRequest, None]):
    def __init__(self, settings: PipelineSettings, commit_user: str, metrics: FlowMetrics) -> None:
        warehouse = PaimonWarehouse(settings.warehouse)
        # A warehouse made by an older persona may key the audit by event_id alone: stop with the
        # recovery rather than merge the audits of two customers' events that share an id.
        check_primary_key(warehouse, SEGMENT_DECISIONS, settings.table("segment_decisions"))
        self._warehouse = warehouse
        self._commit_user = commit_user
        self._profile_table = settings.table("customer_profile")
        self._erasures_table = settings.table("erasures")
        self._segments = TableWriter(warehouse, settings.table("marketing_segments"), commit_user)
        self._audit = TableWriter(warehouse, settings.table("segment_decisions"), commit_user)
        # Decision rows since the last commit; their newest version per customer is the upsert.
        self._pending: list[pa.Table] = []
        self.commits = 0
        self._metrics = CommitMetrics(metrics, (self._segments.table_name, self._audit.table_name))
        self.erasures = 0
        self.schema_changes = 0

    def write_batch(self, values: list[pa.Table | ErasureRequest]) -> None:
        for table in values:
            if isinstance(table, ErasureRequest):
                self._erase(table)
                continue
            schema = self._audit.schema
            if table.schema != schema:
                # The table gained columns (schema evolution) after this version of persona.
                table = conform({n: table.column(n) for n in table.column_names}, schema, table.num_rows)
            self._audit.add_arrow(table)
            self._pending.append(table)

    def _commit(self) -> None:
        decisions = None
        segment_rows = 0
        if self._pending:
            decisions = pa.concat_tables(self._pending, promote_options="default")
            segments = latest_segments(decisions, self._segments.schema)
            segment_rows = segments.num_rows
            self._segments.add_arrow(segments)
            self._pending = []
        metrics = self._metrics
        seg = metrics.timed_commit(self._segments, segment_rows)
        aud = metrics.timed_commit(self._audit, 0 if decisions is None else decisions.num_rows)
        if seg or aud:
            self.commits += 1
        if decisions is not None:
            metrics.committed(decisions, int(time.time() * 1000))
        self._follow_schemas()

    def _reopen(self) -> None:
        """New writers on the tables' newest schemas, restored from their latest snapshots."""
        for attr in ("_segments", "_audit"):
            old: TableWriter = getattr(self, attr)
            old.close()
            setattr(self, attr, TableWriter(self._warehouse, old.table_name, self._commit_user))

    def _follow_schemas(self) -> None:
        """Reopen the writers (nothing is pending: just committed) when a table's schema changed."""
        changed = [w.table_name for w in (self._segments, self._audit) if w.newest_schema_id() != w.schema_id]
        if changed:
            self._reopen()
            self.schema_changes += 1
            log.info(kv(event="schema_followed", tables=",".join(changed)))

    def _erase(self, request: ErasureRequest) -> None:
        """Apply a relayed erasure: the customer's decisions before it are committed first, then
        deleted from every table with the customer's rows, and the erasure recorded."""
        self._commit()
        tables = [self._segments.table_name, self._audit.table_name, self._profile_table]
        deleted = erase_customer(self._warehouse, tables, request.customer_id, "persona-erase")
        self._reopen()
        record = TableWriter(self._warehouse, self._erasures_table, "persona-erase")
        try:
            record.add(
                {
                    "erasure_id": request.erasure_id,
                    "customer_id": request.customer_id,
                    "reason": request.reason,
                    "requested_by": request.requested_by,
                    "requested_at": request.requested_at_ms,
                    "applied_at": int(time.time() * 1000),
                    "rows_deleted_json": msgspec.json.encode(deleted).decode(),
                }
            )
            record.commit()
        finally:
            record.close()
        self.erasures += 1
        log.info(kv(event="erasure_applied", erasure_id=request.erasure_id, deleted=sum(deleted.values())))

    def snapshot(self) -> None:
        # The epoch ends: publish everything it wrote, so a resume never skips uncommitted rows.
        self._commit()

    def close(self) -> None:
        try:
            self._commit()
        finally:
            self._segments.close()
            self._audit.close()


class PaimonSink(FixedPartitionedSink[pa.Table | ErasureRequest, None]):
    """One partition: one writer per table and one commit sequence (commit user ``persona-sink``).
    Items are tables of audit rows (``rows.audit_rows``)."""

    def __init__(
        self,
        settings: PipelineSettings,
        commit_user: str = "persona-sink",
        metrics: FlowMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._commit_user = commit_user
        self._metrics = metrics or FlowMetrics(SPEC.name, None)

    def list_parts(self) -> list[str]:
        return ["paimon"]

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _PaimonPartition:
        return _PaimonPartition(self._settings, self._commit_user, self._metrics)


class DecisionsParser:
    """The ``parse`` step: one polled batch -> ``("paimon", <audit rows>)`` and ``("dlq", [records])``."""

    def __init__(self, settings: PipelineSettings, metrics: FlowMetrics | None = None) -> None:
        self._topic = settings.topics.segment_decisions
        self._metrics = metrics or FlowMetrics(SPEC.name, None)
        self._reasons: dict[str, int] = {}
        self.unwritable = 0

    def __call__(self, batch: RawBatch) -> list[tuple[str, Any]]:
        self._reasons = {}
        out = self._parse(batch)
        metrics = self._metrics
        if metrics.enabled:
            metrics.events_in(self._topic, len(batch))
            metrics.dead_letters(self._topic, self._reasons)
        return out

    def _count(self, reason: str) -> None:
        label = dlq_reason(reason)
        self._reasons[label] = self._reasons.get(label, 0) + 1

    def _parse(self, batch: RawBatch) -> list[tuple[str, Any]]:
        envs: list[DecisionEnvelope] = []
        dlq: list[OutRecord] = []
        # Message i of the batch holds envs[ends[i - 1]:ends[i]]: a decision's key, for its dead letter.
        ends: list[int] = []
        keys: list[bytes | None] = []
        out: list[tuple[str, Any]] = []
        for key, value in batch.records:
            if value is not None and value[:1] == ERASURE_MARKER:
                # An erasure relayed by the enrich flow: the decisions before it are written before it.
                request = parse_erasure_request(value)
                if isinstance(request, Err):
                    dlq.append(dead_letter(self._topic, key, value, request.reason))
                    self._count(request.reason)
                    continue
                self._flush(envs, ends, keys, out, dlq)
                envs, ends, keys = [], [], []
                out.append(("paimon", request.value))
                continue
            try:
                envs.extend(decode_decisions(value or b""))
            except DecisionsDecodeError as error:
                dlq.append(dead_letter(self._topic, key, value, str(error)))
                self._count(str(error))
                continue
            ends.append(len(envs))
            keys.append(key)
        self._flush(envs, ends, keys, out, dlq)
        if dlq:
            out.append(("dlq", dlq))
        return out

    def _flush(
        self,
        envs: list[DecisionEnvelope],
        ends: list[int],
        keys: list[bytes | None],
        out: list[tuple[str, Any]],
        dlq: list[OutRecord],
    ) -> None:
        if envs:
            table, unwritable = audit_rows(envs)
            if table is not None:
                out.append(("paimon", table))
            for bad in unwritable:
                dlq.append(self._dead_letter(keys[bisect_right(ends, bad.index)], bad.envelope, bad.error))

    def _dead_letter(self, key: bytes | None, env: DecisionEnvelope, error: str) -> OutRecord:
        self.unwritable += 1
        log.warning(
            kv(
                event="unwritable_decision",
                event_id=env.audit.event_id,
                customer_id=env.audit.customer_id,
                version=env.version,
                error=error,
                unwritable=self.unwritable,
            )
        )
        (raw,) = encode_decisions([env])
        self._count("unwritable")
        return dead_letter(self._topic, key, raw, f"unwritable: {error}")


def build_flow(
    settings: PipelineSettings | None = None,
    source: Source[Any] | None = None,
    sink: Sink[Any] | None = None,
    *,
    paimon_sink: Sink[Any] | None = None,
) -> Dataflow:
    settings = settings or PipelineSettings.from_env()
    # The flow process's metrics and health endpoint; a flow under test (its own source) has none.
    metrics = start_observability(SPEC, settings).metrics if source is None else FlowMetrics(SPEC.name, None)
    if paimon_sink is None:
        paimon_sink = PaimonSink(settings, metrics=metrics)
    flow = Dataflow(SPEC.dataflow_id)
    inputs = list(SPEC.inputs(settings.topics))
    batches = op.input(SPEC.input_step, flow, source or raw_source(settings, inputs, SPEC.name))
    parsed = op.flat_map("parse", batches, DecisionsParser(settings, metrics))
    split = op.branch("split_dlq", parsed, lambda item: item[0] == "dlq")
    op.output("dlq", split.trues, sink or batch_sink(settings))
    op.output("paimon", split.falses, paimon_sink)
    if source is None:
        prepare_flow_process()
    return flow
