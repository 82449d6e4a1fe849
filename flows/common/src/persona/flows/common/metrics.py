"""A flow process's metrics through the OpenTelemetry SDK: the instruments every flow shares.

Names, types and labels are the contract of DESIGN §7 and docs/runbooks.md ("The metrics the alerts
read"); the console and the alerts read them by name. Every series carries ``flow``.

Recording is per polled batch or per epoch, never per record: an OpenTelemetry SDK ``add``/``record``
costs 12-50 microseconds here (attribute cleaning, measurement objects, view matching, a lock), more
than the enrich flow's whole per-event budget. So the counters of the hot path are ``CumulativeCounter``s:
a batch adds its count to a dict, and OpenTelemetry reads the totals when Prometheus scrapes (observable
counters), so no SDK call runs per batch. The freshness histogram records a uniform sample of the
decisions (``StrideSample``: every ``FRESHNESS_SAMPLE_EVERY``-th one of the stream, so its quantiles are
those of all decisions; its ``_count`` is the sample's size, while ``persona_decisions_total`` counts them
all).

A ``FlowMetrics`` built without a meter (``PERSONA_METRICS=off``, or a flow under test with its own
source) records nothing: every method returns at once.
"""

from __future__ import annotations

import os
import resource
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from persona.flows.common.spec import FRESHNESS_SAMPLE_EVERY

FRESHNESS_BUCKETS: tuple[float, ...] = (
    0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
)  # fmt: skip
"""Seconds; 300 is a bucket bound so the p99-above-300-s alert reads an exact count."""

DURATION_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
"""Seconds: Cassandra reads, Paimon commits, snapshots and restores."""


# The histograms and their buckets (OpenTelemetry views select them by name).
HISTOGRAM_BUCKETS: dict[str, tuple[float, ...]] = {
    "persona_segment_freshness_seconds": FRESHNESS_BUCKETS,
    "persona_cassandra_read_seconds": DURATION_BUCKETS,
    "persona_paimon_commit_duration_seconds": DURATION_BUCKETS,
    "persona_snapshot_duration_seconds": DURATION_BUCKETS,
    "persona_restore_duration_seconds": DURATION_BUCKETS,
}

# The bounded vocabulary of the DLQ counter's ``reason`` label (``dlq_reason``).
KNOWN_REASONS = frozenset(
    {
        "implausible_time",
        "epoch_seconds",
        "amount_scale",
        "count_range",
        "unprocessable",
        "unwritable",
        "too_large",
    }
)


def dlq_reason(reason: str) -> str:
    """The ``reason`` label of a dead letter: its rule or cause, from a bounded set, never the free text
    (which holds values and would make a series per record). A reason reads ``<kind>: <rule>: <detail>``
    for a broken input rule, ``<kind>: unprocessable: ...`` or ``unwritable: ...`` for a record the flow
    could not process or write, ``<kind>: record of N bytes exceeds M`` for an oversized one; anything
    else is ``malformed`` (it did not decode into the contract's shape)."""
    parts = reason.split(": ", 3)
    for part in parts[:3]:
        if part in KNOWN_REASONS:
            return part
    if len(parts) > 1 and parts[1].startswith("record of ") and " exceeds " in parts[1]:
        return "too_large"
    return "malformed"


class StrideSample:
    """Every ``every``-th item of a stream handed over in batches (the first of the stream included)."""

    def __init__(self, every: int) -> None:
        self._every = every
        self._next = 0  # index in the next batch of the next sampled item

    def take(self, batch: Sequence[Any]) -> Sequence[Any]:
        taken = batch[self._next :: self._every]
        self._next = (self._next - len(batch)) % self._every
        return taken


class CumulativeCounter:
    """A monotonic count per label set, added to on the hot path without an OpenTelemetry call: a dict
    update under a lock (writers are the flow's workers, the reader is the scrape). It is an observable
    counter of ``meter``: its callback reports the totals when Prometheus scrapes. ``add(0, attrs)``
    makes a series exist at 0 before its first event."""

    def __init__(self, meter: Meter, name: str, description: str) -> None:
        self._lock = threading.Lock()
        self._totals: dict[tuple[tuple[str, str], ...], int] = {}
        meter.create_observable_counter(name, [self._observe], description=description)

    def add(self, amount: int, attrs: Mapping[str, str]) -> None:
        key = tuple(attrs.items())
        with self._lock:
            self._totals[key] = self._totals.get(key, 0) + amount

    def _observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            totals = list(self._totals.items())
        return [Observation(total, dict(key)) for key, total in totals]


def process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_rss_bytes() -> int:
    """The resident set size, from /proc (0 where there is none)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


class FlowMetrics:
    """The instruments of one flow process; a flow's own module adds its own (``meter``)."""

    def __init__(self, flow: str, meter: Meter | None) -> None:
        self.flow = flow
        self.meter = meter
        self.enabled = meter is not None
        self._attrs: dict[tuple[str, ...], dict[str, str]] = {}
        self._freshness_sample: dict[str, StrideSample] = {}
        if meter is None:
            return
        self._events_in = CumulativeCounter(
            meter, "persona_events_in_total", description="records a flow read, by input topic"
        )
        self._events_out = CumulativeCounter(
            meter,
            "persona_events_out_total",
            description="records a flow wrote, by output topic (or Paimon table)",
        )
        self._events_dlq = CumulativeCounter(
            meter,
            "persona_events_dlq_total",
            description="records a flow sent to the dead-letter topic, by the topic they came from and reason",
        )
        self._freshness = meter.create_histogram(
            "persona_segment_freshness_seconds",
            unit="s",
            description="decided (sink=rt) or committed to Paimon (sink=paimon) minus event time, "
            f"a uniform sample of one decision in {FRESHNESS_SAMPLE_EVERY}",
        )
        meter.create_observable_counter(
            "persona_process_cpu_seconds_total",
            [self._observe(process_cpu_seconds)],
            description="CPU time (user + system) of the flow process",
        )
        meter.create_observable_gauge(
            "persona_process_resident_memory_bytes",
            [self._observe(process_rss_bytes)],
            description="resident set size of the flow process",
        )

    def attrs(self, **labels: str) -> dict[str, str]:
        """The attributes of a series, ``flow`` included, built once per label set."""
        key = tuple(labels.values())
        found = self._attrs.get(key)
        if found is None:
            found = self._attrs[key] = {"flow": self.flow, **labels}
        return found

    def _observe(self, read: Callable[[], float]) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(read(), self.attrs())]

        return callback

    def events_in(self, topic: str, count: int) -> None:
        if self.enabled and count:
            self._events_in.add(count, self.attrs(topic=topic))

    def events_out(self, counts: Mapping[str, int]) -> None:
        """Records written, by topic (a Paimon table for the sink)."""
        if self.enabled:
            for topic, count in counts.items():
                if count:
                    self._events_out.add(count, self.attrs(topic=topic))

    def dead_letters(self, topic: str, reasons: Mapping[str, int]) -> None:
        """Dead letters of records from ``topic``, by ``dlq_reason`` label."""
        if self.enabled:
            for reason, count in reasons.items():
                self._events_dlq.add(count, self.attrs(topic=topic, reason=reason))

    def freshness(self, sink: str, now_ms: int, event_times_ms: Sequence[int]) -> None:
        """Seconds from each event to ``now_ms`` (its decision, or its commit), for a uniform sample."""
        if self.enabled and event_times_ms:
            self.record_freshness(sink, now_ms, self.freshness_sample(sink).take(event_times_ms))

    def freshness_sample(self, sink: str) -> StrideSample:
        """The sample of ``sink``'s decisions, for a caller that samples columns itself (Arrow)."""
        sample = self._freshness_sample.get(sink)
        if sample is None:
            sample = self._freshness_sample[sink] = StrideSample(FRESHNESS_SAMPLE_EVERY)
        return sample

    def record_freshness(self, sink: str, now_ms: int, sampled_event_times_ms: Iterable[int]) -> None:
        """Record already sampled event times (``freshness_sample``)."""
        if not self.enabled:
            return
        attrs = self.attrs(sink=sink)
        record = self._freshness.record
        for event_ms in sampled_event_times_ms:
            record(max(0.0, (now_ms - event_ms) / 1000), attrs)
