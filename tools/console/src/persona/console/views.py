"""What the console shows, as view models built by pure functions from Prometheus samples and Paimon rows.

Nothing here does I/O: ``prometheus.py`` and ``warehouse.py`` fetch, these functions shape, the
templates render. The PromQL the console runs is here too, so the page can say what each number is.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# The metric names are the contract of DESIGN §7 (docs/runbooks.md, "The metrics the alerts read").
# Freshness over the window the alert uses: what an operator sees is what pages them.
FRESHNESS_WINDOW = "5m"
FRESHNESS_P50 = (
    "histogram_quantile(0.5, sum by (sink, le) "
    f"(rate(persona_segment_freshness_seconds_bucket[{FRESHNESS_WINDOW}])))"
)
FRESHNESS_P99 = (
    "histogram_quantile(0.99, sum by (sink, le) "
    f"(rate(persona_segment_freshness_seconds_bucket[{FRESHNESS_WINDOW}])))"
)
# The same quantiles over every observation since the flows started: what an idle pipeline shows
# (its windowed rate is 0, and the windowed quantiles NaN, once its histograms stop growing).
FRESHNESS_P50_SINCE_START = (
    "histogram_quantile(0.5, sum by (sink, le) (persona_segment_freshness_seconds_bucket))"
)
FRESHNESS_P99_SINCE_START = (
    "histogram_quantile(0.99, sum by (sink, le) (persona_segment_freshness_seconds_bucket))"
)
CONSUMER_LAG = "persona_consumer_lag"
DLQ_TOTALS = "sum by (flow, topic, reason) (persona_events_dlq_total)"
_KAFKA_TOPIC = re.compile(r"[A-Za-z0-9._-]+")


def topic_matcher(topics: Iterable[str]) -> str:
    """A PromQL label matcher for exactly these topics: ``{topic=~"a|b\\.dlq"}``.

    The console watches one pipeline, whose topics its settings name. A Prometheus may hold others
    (another pipeline, a test's private topics, or a previous run's series within Prometheus's 5-minute
    lookback after a restart, which a stopped Prometheus never marks stale); their lag is not this
    pipeline's.
    """
    names = sorted(set(topics))
    for name in names:
        if not _KAFKA_TOPIC.fullmatch(name):
            raise ValueError(f"not a Kafka topic name: {name!r}")
    # RE2 inside a PromQL string literal: a regex backslash is written twice.
    alternatives = "|".join(name.replace(".", "\\\\.") for name in names)
    return f'{{topic=~"{alternatives}"}}'


@dataclass(frozen=True)
class Queries:
    """The PromQL the page runs, and shows next to each number."""

    freshness_p50: str = FRESHNESS_P50
    freshness_p99: str = FRESHNESS_P99
    freshness_p50_since_start: str = FRESHNESS_P50_SINCE_START
    freshness_p99_since_start: str = FRESHNESS_P99_SINCE_START
    lag: str = CONSUMER_LAG
    dlq: str = DLQ_TOTALS

    @classmethod
    def for_topics(cls, topics: Iterable[str]) -> Queries:
        """Lag and dead letters of these topics only (freshness has no topic: it is per sink)."""
        matcher = topic_matcher(topics)
        return cls(
            lag=f"persona_consumer_lag{matcher}",
            dlq=f"sum by (flow, topic, reason) (persona_events_dlq_total{matcher})",
        )


RFM_TAG = re.compile(r"rfm-\d{8}")


@dataclass(frozen=True)
class Sample:
    """One element of an instant vector: its labels and value."""

    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class FreshnessRow:
    """Freshness quantiles of one sink (``rt`` at decision, ``paimon`` at commit); None: no data."""

    sink: str
    p50: float | None
    p99: float | None
    p50_since_start: float | None = None
    p99_since_start: float | None = None


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: str
    lag: float


@dataclass(frozen=True)
class FlowLag:
    """A flow's consumer lag: its total over its partitions and the partition furthest behind."""

    flow: str
    total: float
    worst: PartitionLag
    partitions: int


@dataclass(frozen=True)
class DlqRow:
    flow: str
    topic: str
    reason: str
    total: float


@dataclass(frozen=True)
class SegmentPoint:
    """The segment counts of ``marketing_segments`` as of one snapshot."""

    snapshot_id: int
    committed_at_ms: int
    counts: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class SegmentHistory:
    points: tuple[SegmentPoint, ...]
    segments: tuple[str, ...]

    @property
    def latest(self) -> SegmentPoint | None:
        return self.points[-1] if self.points else None


@dataclass(frozen=True)
class Metrics:
    """Everything the console reads from Prometheus, evaluated at one instant (``at``, Unix seconds) so
    that the page can be checked against the same queries at that time; ``error``: why it is empty."""

    at: float
    freshness: tuple[FreshnessRow, ...] = ()
    lag: tuple[FlowLag, ...] = ()
    dlq: tuple[DlqRow, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class CustomerView:
    """A searched customer: the current ``marketing_segments`` row, the explanation of the decision in
    force, and the ``customer_profile`` row (the RFM the flows use)."""

    customer_id: int
    segment_row: Mapping[str, object] | None
    explanation: tuple[str, ...]
    profile: Mapping[str, object] | None
    error: str | None = None

    @property
    def found(self) -> bool:
        return self.segment_row is not None or bool(self.explanation) or self.profile is not None


@dataclass(frozen=True)
class Dashboard:
    metrics: Metrics
    segments: SegmentHistory
    rfm_tag: str | None
    warehouse_error: str | None = None
    customer: CustomerView | None = None
    search_error: str | None = None
    notes: tuple[str, ...] = field(default=())


def _finite(value: float) -> float | None:
    # histogram_quantile answers NaN when a sink had no observation in the window.
    return value if math.isfinite(value) else None


def freshness_rows(
    p50: Iterable[Sample],
    p99: Iterable[Sample],
    p50_since_start: Iterable[Sample] = (),
    p99_since_start: Iterable[Sample] = (),
) -> tuple[FreshnessRow, ...]:
    """One row per sink seen in any quantile's result, by sink name."""
    by_sink: dict[str, dict[str, float | None]] = defaultdict(dict)
    for quantile, samples in (
        ("p50", p50),
        ("p99", p99),
        ("p50_since_start", p50_since_start),
        ("p99_since_start", p99_since_start),
    ):
        for sample in samples:
            by_sink[sample.labels.get("sink", "")][quantile] = _finite(sample.value)
    return tuple(
        FreshnessRow(
            sink,
            values.get("p50"),
            values.get("p99"),
            values.get("p50_since_start"),
            values.get("p99_since_start"),
        )
        for sink, values in sorted(by_sink.items())
    )


def flow_lags(samples: Iterable[Sample]) -> tuple[FlowLag, ...]:
    """``persona_consumer_lag{flow,topic,partition}`` summed per flow, with its worst partition.

    The same partition can be exported by two endpoints of a flow (two workers, or a restarted
    process whose old series has not gone stale yet): the largest value counts once.
    """
    per_partition: dict[str, dict[tuple[str, str], float]] = defaultdict(dict)
    for sample in samples:
        flow = sample.labels.get("flow", "")
        key = (sample.labels.get("topic", ""), sample.labels.get("partition", ""))
        per_partition[flow][key] = max(sample.value, per_partition[flow].get(key, -math.inf))
    rows = []
    for flow, partitions in sorted(per_partition.items()):
        (topic, partition), worst = max(partitions.items(), key=lambda item: (item[1], item[0]))
        rows.append(
            FlowLag(flow, sum(partitions.values()), PartitionLag(topic, partition, worst), len(partitions))
        )
    return tuple(rows)


def dlq_rows(samples: Iterable[Sample]) -> tuple[DlqRow, ...]:
    """Dead letters by flow, topic and reason, the most first."""
    rows = [
        DlqRow(s.labels.get("flow", ""), s.labels.get("topic", ""), s.labels.get("reason", ""), s.value)
        for s in samples
    ]
    return tuple(sorted(rows, key=lambda r: (-r.total, r.flow, r.topic, r.reason)))


def pick_snapshots(snapshot_ids: Sequence[int], limit: int) -> list[int]:
    """At most ``limit`` of the ids (ascending), evenly spread over the history, the first and the
    latest always included: the chart covers the whole history at a bounded cost."""
    ids = sorted(set(snapshot_ids))
    limit = max(limit, 2)
    if len(ids) <= limit:
        return ids
    step = (len(ids) - 1) / (limit - 1)
    return sorted({ids[round(i * step)] for i in range(limit)})


def segment_history(points: Iterable[SegmentPoint]) -> SegmentHistory:
    ordered = tuple(sorted(points, key=lambda p: p.snapshot_id))
    segments = tuple(sorted({segment for p in ordered for segment in p.counts}))
    return SegmentHistory(ordered, segments)


def latest_rfm_tag(tags: Iterable[str]) -> str | None:
    """The newest ``rfm-YYYYMMDD`` tag (the RFM job tags each run's overwrite of customer_profile)."""
    rfm = [tag for tag in tags if RFM_TAG.fullmatch(tag)]
    return max(rfm) if rfm else None


def format_seconds(value: float | None) -> str:
    """A duration as the page shows it: "–" for no data, ms under a second, else seconds."""
    if value is None:
        return "–"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s"
