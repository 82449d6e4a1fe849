"""Both sides of a row's comparison: ``expected`` (``persona replay`` over the row's input files)
and ``observed`` (the rt topic, the Paimon tables and the dead-letter topics, read back)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from persona.chaos.invariants import AuditRow, DeadLetterKey, Expected, Observed, Outcome, RtMessage
from persona.contracts import Ok, Topics, parse_decision_message, parse_dlq_record
from persona.kafka import ConsumedRecord, read_topic
from persona.paimon import PaimonWarehouse
from persona.replay import run_replay

INPUT_TOPICS = ("behavior_events", "orders_cdc")
INTERNAL_TOPICS = ("order_facts", "segment_decisions")


def _outcome(segment: str, recommendation: Any, score: float | None) -> Outcome:
    return Outcome(segment, tuple(recommendation or ()), score)


def expected(paths: dict[str, Path], out_dir: Path, events: int) -> Expected:
    """Replay over the input files: its decisions, each customer's last one, its rejects."""
    decisions_path, dlq_path = out_dir / "replay.jsonl", out_dir / "replay.dlq.jsonl"
    run_replay(
        paths["events"], paths["orders"], paths["profiles"], paths["inventory"], decisions_path, dlq_path
    )
    decided: set[tuple[str, int]] = set()
    final: dict[int, Outcome] = {}
    for line in decisions_path.read_bytes().splitlines():
        d = orjson.loads(line)
        decided.add((d["event_id"], d["customer_id"]))
        final[d["customer_id"]] = _outcome(d["segment"], d["recommendation"], d["score"])
    rejects = set()
    for line in dlq_path.read_bytes().splitlines():
        parsed = parse_dlq_record(line)
        if isinstance(parsed, Ok):
            r = parsed.value
            rejects.add(DeadLetterKey.of(r.topic, r.reason, r.raw, r.raw_sha256))
    return Expected(frozenset(decided), final, frozenset(rejects), events)


def _dead_letters(records: list[ConsumedRecord], prefix: str) -> list[DeadLetterKey]:
    keys = []
    for rec in records:
        parsed = parse_dlq_record(rec.value or b"")
        if isinstance(parsed, Ok):
            r = parsed.value
            keys.append(DeadLetterKey.of(r.topic.removeprefix(prefix), r.reason, r.raw, r.raw_sha256))
        else:  # an unreadable dead letter still counts, and can match nothing replay rejected
            keys.append(DeadLetterKey("?", "unreadable dead letter", str(rec.offset)))
    return keys


def read_rt(
    bootstrap: str, topics: Topics, config: Mapping[str, str] | None = None
) -> list[tuple[RtMessage, int]]:
    """Every rt message in partition order, with the broker's arrival time (ms)."""
    out = []
    for rec in read_topic(bootstrap, topics.marketing_segments_rt, timeout=60, config=config):
        parsed = parse_decision_message(rec.value or b"")
        if isinstance(parsed, Ok):
            m, d = parsed.value, parsed.value.decision
            out.append(
                (
                    RtMessage(d.customer_id, m.version, _outcome(d.segment, d.recommendation, d.score)),
                    rec.timestamp_ms,
                )
            )
    return out


def observed(
    bootstrap: str,
    topics: Topics,
    prefix: str,
    warehouse_dir: Path,
    rt: list[RtMessage],
    config: Mapping[str, str] | None = None,
) -> Observed:
    warehouse = PaimonWarehouse(warehouse_dir)
    audit = []
    for row in warehouse.read_arrow("segment_decisions").to_pylist():
        seen_json = orjson.loads(row["candidates_json"]) if row.get("candidates_json") else {}
        seen = {c["sku_id"]: c["sellable"] for c in seen_json.get("candidates", [])}
        audit.append(AuditRow(row["event_id"], row["customer_id"], tuple(row["recommendation"] or ()), seen))
    segments = {
        row["customer_id"]: _outcome(row["segment"], row["recommendation"], row["score"])
        for row in warehouse.read_arrow("marketing_segments").to_pylist()
    }
    letters: list[DeadLetterKey] = []
    for name in INPUT_TOPICS:
        letters += _dead_letters(
            read_topic(bootstrap, Topics.dlq(prefix + name), timeout=30, config=config), prefix
        )
    internal = sum(
        len(read_topic(bootstrap, Topics.dlq(prefix + name), timeout=30, config=config))
        for name in INTERNAL_TOPICS
    )
    return Observed(audit, rt, segments, letters, internal)
