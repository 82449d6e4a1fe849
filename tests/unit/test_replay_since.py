"""``persona logic replay --since T`` (``decide_stream(since_ms=...)``): events before T only build the
customers' state, so the decisions from T on are exactly those of a replay of everything, and none
before T is made."""

from __future__ import annotations

from persona.contracts import BehaviorEvent, DecisionAudit, Ok, parse_behavior_event
from persona.datagen import DataGenerator, GeneratorConfig
from persona.decisions.config import V1
from persona.replay.files import decide_stream, merge_stream

START_MS = 1_796_000_000_000


def _events() -> list[BehaviorEvent]:
    gen = DataGenerator(GeneratorConfig(seed=7, customers=25, skus=12, order_fraction=0.0))
    events = []
    for record in gen.records(400, START_MS, 1000):
        parsed = parse_behavior_event(record.value or b"", now_ms=START_MS + 400_000)
        if isinstance(parsed, Ok):
            events.append(parsed.value)
    return events


def _decided(since_ms: int | None) -> list[DecisionAudit]:
    stream = merge_stream(_events(), [])
    return [audit for _, _, audit in decide_stream(stream, {}, {}, V1, since_ms=since_ms)]


def test_decisions_since_t_are_those_of_the_whole_replay_from_t_on() -> None:
    since_ms = START_MS + 200_000  # half way through
    everything = _decided(None)
    since = _decided(since_ms)
    assert since and len(since) < len(everything)
    assert all(audit.event_time_ms >= since_ms for audit in since)
    assert since == [audit for audit in everything if audit.event_time_ms >= since_ms]
    # The history before T shaped them: without it the same events decide differently.
    alone = merge_stream([e for e in _events() if e.event_time_ms >= since_ms], [])
    assert [audit for _, _, audit in decide_stream(alone, {}, {}, V1)] != since
