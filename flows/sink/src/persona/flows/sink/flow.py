"""Wiring of the sink flow and the Paimon sink."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import bytewax.operators as op
import msgspec
import orjson
from bytewax.connectors.kafka import KafkaSinkMessage, KafkaSourceMessage
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import FixedPartitionedSink, Sink, StatefulSinkPartition

from persona.contracts import decision_to_json, ms_to_iso
from persona.paimon import PaimonWarehouse, TableWriter
from persona.pipeline import DecisionEnvelope, PipelineSettings, decode_envelope
from persona.pipeline.kafka_wiring import RawMessage, dead_letter, kafka_sink, kafka_source

SourceItem = KafkaSourceMessage[bytes | None, bytes | None]
Parsed = tuple[str, DecisionEnvelope | RawMessage]


def _dt(ms: int) -> datetime:
    # Paimon TIMESTAMP(3) columns are zone-less; persona stores UTC wall time in them.
    return datetime.fromtimestamp(ms / 1000, tz=UTC).replace(tzinfo=None)


def segment_row(env: DecisionEnvelope) -> dict[str, Any]:
    d = env.decision
    return {
        "customer_id": d.customer_id,
        "segment": d.segment,
        "recommendation": list(d.recommendation),
        "score": d.score,
        "updated_at": _dt(d.updated_at_ms),
        "event_time": _dt(d.event_time_ms),
        "logic_version": d.logic_version,
        "version": env.version,
    }


def audit_row(env: DecisionEnvelope) -> dict[str, Any]:
    a = env.audit
    return {
        "event_date": ms_to_iso(a.event_time_ms)[:10],
        "event_id": a.event_id,
        "customer_id": a.customer_id,
        "event_time": _dt(a.event_time_ms),
        "event_type": a.event_type,
        "sku_id": a.event_sku_id,
        "segment": a.segment,
        "rule": a.rule,
        "score": a.score,
        "recommendation": list(a.recommendation),
        "profile_segment": a.profile_segment,
        "profile_recency": a.profile_recency,
        "profile_frequency": a.profile_frequency,
        "profile_monetary": a.profile_monetary,
        "profile_rfm_as_of": a.profile_rfm_as_of,
        "profile_snapshot": _snapshot_id(a.profile_snapshot),
        "profile_tag": a.profile_snapshot
        if a.profile_snapshot and not a.profile_snapshot.startswith("snapshot:")
        else None,
        "effective_recency": a.recency,
        "effective_frequency": a.frequency,
        "effective_monetary": a.monetary,
        "candidates_json": orjson.dumps(
            {
                "event_sku_sellable": a.event_sku_sellable,
                "adjusting_order_ids": list(a.adjusting_order_ids),
                "candidates": [{"sku_id": c.sku_id, "sellable": c.sellable} for c in a.candidates],
            }
        ).decode(),
        "logic_version": a.logic_version,
        "decided_at": _dt(a.decided_at_ms),
        "version": env.version,
    }


def _tag(label: str | None) -> str | None:
    return label if label and not label.startswith("snapshot:") else None


def _snapshot_id(label: str | None) -> int | None:
    if label and label.startswith("snapshot:"):
        try:
            return int(label.split(":", 1)[1])
        except ValueError:
            return None
    return None


class _PaimonPartition(StatefulSinkPartition[DecisionEnvelope, None]):
    def __init__(self, settings: PipelineSettings, commit_user: str, clock: Callable[[], float]) -> None:
        warehouse = PaimonWarehouse(settings.warehouse)
        self._segments = TableWriter(warehouse, settings.table("marketing_segments"), commit_user)
        self._audit = TableWriter(warehouse, settings.table("segment_decisions"), commit_user)
        self._interval = settings.commit_interval_seconds
        self._clock = clock
        self._last_commit = clock()
        self.commits = 0

    def write_batch(self, values: list[DecisionEnvelope]) -> None:
        latest: dict[int, DecisionEnvelope] = {}
        for env in values:
            latest[env.decision.customer_id] = env
            self._audit.add(audit_row(env))
        # Within one batch only the newest version of a customer matters for the upsert table.
        self._segments.extend(segment_row(env) for env in latest.values())
        if self._clock() - self._last_commit >= self._interval:
            self._commit()

    def _commit(self) -> None:
        self._last_commit = self._clock()
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


class PaimonSink(FixedPartitionedSink[DecisionEnvelope, None]):
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

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _PaimonPartition:
        return _PaimonPartition(self._settings, self._commit_user, self._clock)


def parse(settings: PipelineSettings, msg: SourceItem) -> Parsed:
    try:
        return ("ok", decode_envelope(msg.value or b""))
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        return ("dlq", dead_letter(settings.topics.segment_decisions, msg.key, msg.value, str(error)))


def to_rt(settings: PipelineSettings, env: DecisionEnvelope) -> RawMessage:
    d = env.decision
    return KafkaSinkMessage(
        key=str(d.customer_id).encode(),
        value=decision_to_json(d, env.version),
        topic=settings.topics.marketing_segments_rt,
    )


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
    messages = op.input(
        "in", flow, source or kafka_source(settings, [settings.topics.segment_decisions], "sink")
    )
    parsed = op.map("parse", messages, lambda m: parse(settings, m))
    split = op.branch("split_dlq", parsed, lambda item: item[0] == "dlq")
    dlq = op.map("dlq", split.trues, lambda item: item[1])
    envelopes = op.map("envelope", split.falses, lambda item: item[1])
    rt = op.map("to_rt", envelopes, lambda env: to_rt(settings, env))  # type: ignore[arg-type]
    op.output("kafka", op.merge("kafka_all", rt, dlq), sink or kafka_sink(settings))
    paimon = op.key_on("paimon_key", envelopes, lambda _env: "paimon")
    op.output("paimon", paimon, paimon_sink)
    return flow
