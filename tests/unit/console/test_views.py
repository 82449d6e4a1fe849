"""The console's view models from Prometheus samples and Paimon rows: pure, no I/O."""

from __future__ import annotations

import json
import math
import re

import pytest

from persona.console.views import (
    DlqRow,
    FreshnessRow,
    PartitionLag,
    Queries,
    Sample,
    SegmentPoint,
    dlq_rows,
    flow_lags,
    format_seconds,
    freshness_rows,
    latest_rfm_tag,
    pick_snapshots,
    segment_history,
    topic_matcher,
)


def test_freshness_rows_join_the_two_quantiles_by_sink_and_turn_nan_into_no_data() -> None:
    p50 = [Sample({"sink": "rt"}, 0.4), Sample({"sink": "paimon"}, math.nan)]
    p99 = [Sample({"sink": "rt"}, 1.2), Sample({"sink": "paimon"}, 9.5)]
    assert freshness_rows(p50, p99) == (
        FreshnessRow("paimon", None, 9.5),
        FreshnessRow("rt", 0.4, 1.2),
    )


def test_freshness_rows_carry_the_quantiles_since_start() -> None:
    rows = freshness_rows(
        [Sample({"sink": "rt"}, math.nan)],
        [Sample({"sink": "rt"}, math.nan)],
        [Sample({"sink": "rt"}, 0.3)],
        [Sample({"sink": "rt"}, 0.9)],
    )
    assert rows == (FreshnessRow("rt", None, None, 0.3, 0.9),)


def test_freshness_rows_of_a_sink_seen_in_one_quantile_only() -> None:
    assert freshness_rows([], [Sample({"sink": "rt"}, 2.0)]) == (FreshnessRow("rt", None, 2.0),)
    assert freshness_rows([], []) == ()


def test_flow_lags_sum_partitions_per_flow_and_name_the_worst() -> None:
    samples = [
        Sample({"flow": "enrich", "topic": "behavior_events", "partition": "0"}, 10),
        Sample({"flow": "enrich", "topic": "behavior_events", "partition": "1"}, 250),
        Sample({"flow": "enrich", "topic": "order_facts", "partition": "0"}, 0),
        Sample({"flow": "cdc", "topic": "orders_cdc", "partition": "0"}, 3),
    ]
    cdc, enrich = flow_lags(samples)
    assert (cdc.flow, cdc.total, cdc.partitions) == ("cdc", 3, 1)
    assert (enrich.flow, enrich.total, enrich.partitions) == ("enrich", 260, 3)
    assert enrich.worst == PartitionLag("behavior_events", "1", 250)


def test_a_partition_exported_twice_counts_once_at_its_largest() -> None:
    # A restarted flow's old series lingers until it goes stale.
    samples = [
        Sample({"flow": "sink", "topic": "rt", "partition": "0", "instance": "a"}, 5),
        Sample({"flow": "sink", "topic": "rt", "partition": "0", "instance": "b"}, 7),
    ]
    (sink,) = flow_lags(samples)
    assert (sink.total, sink.partitions) == (7, 1)


def test_dlq_rows_most_first_then_by_name() -> None:
    samples = [
        Sample({"flow": "enrich", "topic": "behavior_events", "reason": "bad_json"}, 2),
        Sample({"flow": "cdc", "topic": "orders_cdc", "reason": "missing_field"}, 9),
        Sample({"flow": "enrich", "topic": "behavior_events", "reason": "implausible_time"}, 2),
    ]
    assert dlq_rows(samples) == (
        DlqRow("cdc", "orders_cdc", "missing_field", 9),
        DlqRow("enrich", "behavior_events", "bad_json", 2),
        DlqRow("enrich", "behavior_events", "implausible_time", 2),
    )


@pytest.mark.parametrize(
    ("ids", "limit", "expected"),
    [
        ([], 5, []),
        ([3, 1, 2], 5, [1, 2, 3]),
        (list(range(1, 11)), 4, [1, 4, 7, 10]),
        (list(range(1, 101)), 2, [1, 100]),
        (list(range(1, 101)), 0, [1, 100]),
    ],
)
def test_pick_snapshots_spreads_over_the_history_keeping_first_and_latest(
    ids: list[int], limit: int, expected: list[int]
) -> None:
    assert pick_snapshots(ids, limit) == expected


def test_pick_snapshots_never_exceeds_the_limit() -> None:
    for n in range(1, 60):
        for limit in range(2, 12):
            chosen = pick_snapshots(list(range(n)), limit)
            assert len(chosen) <= limit
            assert chosen[0] == 0 and chosen[-1] == n - 1


def test_segment_history_orders_points_and_lists_every_segment_seen() -> None:
    history = segment_history(
        [
            SegmentPoint(7, 2_000, {"vip": 3, "churn_risk": 1}),
            SegmentPoint(2, 1_000, {"vip": 1, "new": 4}),
        ]
    )
    assert [p.snapshot_id for p in history.points] == [2, 7]
    assert history.segments == ("churn_risk", "new", "vip")
    assert history.latest is not None and history.latest.total == 4
    assert segment_history([]).latest is None


def test_latest_rfm_tag_ignores_other_tags() -> None:
    assert latest_rfm_tag(["rfm-20261201", "manual", "rfm-20261206", "rfm-2026"]) == "rfm-20261206"
    assert latest_rfm_tag(["manual"]) is None


def test_format_seconds() -> None:
    assert format_seconds(None) == "–"
    assert format_seconds(0.0421) == "42 ms"
    assert format_seconds(3.456) == "3.46 s"


def test_the_topic_matcher_selects_exactly_the_pipelines_topics() -> None:
    matcher = topic_matcher(["p_orders_cdc", "p_orders_cdc.dlq", "p_orders_cdc"])
    label, _, literal = matcher.strip("{}").partition("=~")
    assert label == "topic"
    # The PromQL string literal unquoted (its escapes are JSON's) is the RE2 pattern; Prometheus
    # anchors it at both ends.
    pattern = re.compile(f"^(?:{json.loads(literal)})$")
    assert [
        t
        for t in ("p_orders_cdc", "p_orders_cdc.dlq", "p_orders_cdcXdlq", "orders_cdc", "x")
        if pattern.match(t)
    ] == ["p_orders_cdc", "p_orders_cdc.dlq"]


def test_a_name_kafka_would_refuse_is_not_turned_into_a_query() -> None:
    with pytest.raises(ValueError, match="not a Kafka topic name"):
        topic_matcher(['a"}) or vector(1'])


def test_the_pipelines_queries_scope_lag_and_dead_letters_to_its_topics() -> None:
    queries = Queries.for_topics(["t"])
    assert queries.lag == 'persona_consumer_lag{topic=~"t"}'
    assert queries.dlq == 'sum by (flow, topic, reason) (persona_events_dlq_total{topic=~"t"})'
    assert queries.freshness_p99 == Queries().freshness_p99
