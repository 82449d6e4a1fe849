"""The sink flow's own metrics: Paimon commit duration, rows and failures per table, and the
freshness of decisions in Paimon (``persona_segment_freshness_seconds{sink="paimon"}``, at commit)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

from persona.flows.common.metrics import FlowMetrics


class Committer(Protocol):
    table_name: str

    def commit(self) -> object: ...


class CommitMetrics:
    """Times each table's commit, counts its rows and failures; failures are exported at 0 per table
    from the start (an alert on ``increase`` sees nothing of a series born at 1)."""

    def __init__(self, metrics: FlowMetrics, tables: Sequence[str]) -> None:
        self.common = metrics
        meter = metrics.meter
        self.enabled = meter is not None
        if meter is None:
            return
        self._duration = meter.create_histogram(
            "persona_paimon_commit_duration_seconds", unit="s", description="one Paimon table commit"
        )
        self._rows = meter.create_counter(
            "persona_paimon_commit_rows_total", description="rows committed to a Paimon table"
        )
        self._failures = meter.create_counter(
            "persona_paimon_commit_failures_total", description="Paimon commits that raised"
        )
        for table in tables:
            self._failures.add(0, metrics.attrs(table=table))

    def timed_commit(self, writer: Committer, rows: int) -> object:
        """``writer.commit()``, timed; a failure is counted and raised again (the flow dies and replays)."""
        if not self.enabled:
            return writer.commit()
        attrs = self.common.attrs(table=writer.table_name)
        started = time.perf_counter()
        try:
            committed = writer.commit()
        except Exception:
            self._failures.add(1, attrs)
            raise
        self._duration.record(time.perf_counter() - started, attrs)
        if rows:
            self._rows.add(rows, attrs)
            self.common.events_out({writer.table_name: rows})
        return committed

    def committed(self, decisions: pa.Table, now_ms: int) -> None:
        """The freshness of the decisions just committed: commit time minus event time."""
        if not self.enabled or decisions.num_rows == 0:
            return
        event_ms = pc.cast(decisions.column("event_time"), pa.int64()).combine_chunks()
        sampled: pa.Array = self.common.freshness_sample("paimon").take(event_ms)
        self.common.record_freshness("paimon", now_ms, sampled.to_pylist())
