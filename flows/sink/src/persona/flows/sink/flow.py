"""Wiring of the sink flow and the Paimon sink.

Decisions arrive in polled batches; each batch is decoded and turned into Arrow columns directly
(no per-row dicts or ``datetime`` objects), and the Paimon writers commit once per Bytewax epoch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import bytewax.operators as op
import msgspec
import pyarrow as pa
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import FixedPartitionedSink, Sink, StatefulSinkPartition

from persona.contracts import CandidateSku, ms_to_iso
from persona.contracts.timeutil import DAY_MS
from persona.paimon import PaimonWarehouse, TableWriter
from persona.pipeline import DecisionEnvelope, PipelineSettings, decode_envelope
from persona.pipeline.kafka_wiring import OutRecord, RawBatch, batch_sink, dead_letter, raw_source
from persona.pipeline.process import prepare_flow_process


class _CandidatesJson(msgspec.Struct, gc=False):
    """The ``candidates_json`` column: the stock the decision saw (field order is the JSON's)."""

    event_sku_sellable: int | None
    adjusting_order_ids: tuple[int, ...]
    candidates: tuple[CandidateSku, ...]


_json = msgspec.json.Encoder()


def _snapshot_id(label: str | None) -> int | None:
    if label and label.startswith("snapshot:"):
        try:
            return int(label.split(":", 1)[1])
        except ValueError:
            return None
    return None


def _tag(label: str | None) -> str | None:
    return label if label and not label.startswith("snapshot:") else None


def conform(columns: dict[str, Sequence[Any]], schema: pa.Schema, rows: int) -> pa.Table:
    """An Arrow table of ``schema`` from named Python columns; a schema column the caller does not
    know (added by schema evolution after this code was written) is all null."""
    arrays = [
        pa.array(columns[f.name], type=f.type) if f.name in columns else pa.nulls(rows, type=f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def segment_table(envs: Sequence[DecisionEnvelope], schema: pa.Schema) -> pa.Table:
    """``marketing_segments`` rows (DESIGN §3): the decision and its per-customer version."""
    ds = [e.decision for e in envs]
    return conform(
        {
            "customer_id": [d.customer_id for d in ds],
            "segment": [d.segment for d in ds],
            "recommendation": [d.recommendation for d in ds],
            "score": [d.score for d in ds],
            # TIMESTAMP(3) columns are zone-less; persona stores UTC wall time (epoch ms) in them.
            "updated_at": [d.updated_at_ms for d in ds],
            "event_time": [d.event_time_ms for d in ds],
            "logic_version": [d.logic_version for d in ds],
            "version": [e.version for e in envs],
        },
        schema,
        len(ds),
    )


def audit_table(envs: Sequence[DecisionEnvelope], schema: pa.Schema) -> pa.Table:
    """``segment_decisions`` rows: one per decision, with every input it used (DESIGN §3)."""
    audits = [e.audit for e in envs]
    days: dict[int, str] = {}
    event_dates: list[str] = []
    for a in audits:
        day = a.event_time_ms // DAY_MS
        text = days.get(day)
        if text is None:
            text = days[day] = ms_to_iso(day * DAY_MS)[:10]
        event_dates.append(text)
    labels = [a.profile_snapshot for a in audits]
    return conform(
        {
            "event_date": event_dates,
            "event_id": [a.event_id for a in audits],
            "customer_id": [a.customer_id for a in audits],
            "event_time": [a.event_time_ms for a in audits],
            "event_type": [a.event_type for a in audits],
            "sku_id": [a.event_sku_id for a in audits],
            "segment": [a.segment for a in audits],
            "rule": [a.rule for a in audits],
            "score": [a.score for a in audits],
            "recommendation": [a.recommendation for a in audits],
            "profile_segment": [a.profile_segment for a in audits],
            "profile_recency": [a.profile_recency for a in audits],
            "profile_frequency": [a.profile_frequency for a in audits],
            "profile_monetary": [a.profile_monetary for a in audits],
            "profile_rfm_as_of": [a.profile_rfm_as_of for a in audits],
            "profile_snapshot": [_snapshot_id(label) for label in labels],
            "profile_tag": [_tag(label) for label in labels],
            "effective_recency": [a.recency for a in audits],
            "effective_frequency": [a.frequency for a in audits],
            "effective_monetary": [a.monetary for a in audits],
            "candidates_json": [
                _json.encode(
                    _CandidatesJson(a.event_sku_sellable, a.adjusting_order_ids, a.candidates)
                ).decode()
                for a in audits
            ],
            "logic_version": [a.logic_version for a in audits],
            "decided_at": [a.decided_at_ms for a in audits],
            "version": [e.version for e in envs],
        },
        schema,
        len(audits),
    )


class _PaimonPartition(StatefulSinkPartition[list[DecisionEnvelope], None]):
    def __init__(self, settings: PipelineSettings, commit_user: str, clock: Callable[[], float]) -> None:
        warehouse = PaimonWarehouse(settings.warehouse)
        self._segments = TableWriter(warehouse, settings.table("marketing_segments"), commit_user)
        self._audit = TableWriter(warehouse, settings.table("segment_decisions"), commit_user)
        self._interval = settings.commit_interval_seconds
        self._clock = clock
        self._last_commit = clock()
        # Newest decision per customer since the last commit: only it matters for the upsert table.
        self._latest: dict[int, DecisionEnvelope] = {}
        self.commits = 0

    def write_batch(self, values: list[list[DecisionEnvelope]]) -> None:
        latest = self._latest
        for envs in values:
            for env in envs:
                customer_id = env.decision.customer_id
                known = latest.get(customer_id)
                if known is None or env.version >= known.version:
                    latest[customer_id] = env
            self._audit.add_arrow(audit_table(envs, self._audit.schema))
        if self._clock() - self._last_commit >= self._interval:
            self._commit()

    def _commit(self) -> None:
        self._last_commit = self._clock()
        if self._latest:
            self._segments.add_arrow(segment_table(list(self._latest.values()), self._segments.schema))
            self._latest = {}
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

    def __init__(
        self,
        settings: PipelineSettings,
        commit_user: str = "persona-sink",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._commit_user = commit_user
        self._clock = clock

    def list_parts(self) -> list[str]:
        return ["paimon"]

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _PaimonPartition:
        return _PaimonPartition(self._settings, self._commit_user, self._clock)


def parse(settings: PipelineSettings, batch: RawBatch) -> list[tuple[str, Any]]:
    """One polled batch -> ``("paimon", [envelopes])`` and ``("dlq", [records])``."""
    envs: list[DecisionEnvelope] = []
    dlq: list[OutRecord] = []
    for key, value in batch.records:
        try:
            envs.append(decode_envelope(value or b""))
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
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
    flow = Dataflow("persona_sink")
    batches = op.input(
        "in", flow, source or raw_source(settings, [settings.topics.segment_decisions], "sink")
    )
    parsed = op.flat_map("parse", batches, lambda batch: parse(settings, batch))
    split = op.branch("split_dlq", parsed, lambda item: item[0] == "dlq")
    op.output("dlq", split.trues, sink or batch_sink(settings))
    op.output("paimon", split.falses, paimon_sink)
    if source is None:
        prepare_flow_process()
    return flow
