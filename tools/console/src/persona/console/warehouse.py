"""What the console reads from the Paimon warehouse, through the persona.paimon adapter.

Segment sizes over time are the segment counts of ``marketing_segments`` as of a bounded number of its
snapshots spread over its history (``views.pick_snapshots``). A snapshot never changes, so its counts
are kept once read: a page refresh only reads the snapshots committed since the last one.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from persona.console.views import CustomerView, SegmentHistory, SegmentPoint, pick_snapshots, segment_history
from persona.paimon import PaimonWarehouse, decision_in_force, explanation_lines


@dataclass(frozen=True)
class Tables:
    """The warehouse's table names (with PERSONA_TABLE_SUFFIX applied by the caller)."""

    segments: str = "marketing_segments"
    decisions: str = "segment_decisions"
    profiles: str = "customer_profile"


class WarehouseReader:
    def __init__(self, warehouse: PaimonWarehouse, tables: Tables, max_points: int = 40) -> None:
        self.warehouse = warehouse
        self.tables = tables
        self.max_points = max_points
        self._counts: dict[int, SegmentPoint] = {}
        self._lock = threading.Lock()

    def _segment_counts(self, snapshot_id: int, committed_at_ms: int) -> SegmentPoint:
        table = self.warehouse.sql(
            f"SELECT segment, count(*) AS customers FROM {self.tables.segments} "
            f"VERSION AS OF {int(snapshot_id)} GROUP BY segment"
        )
        counts = {str(r["segment"]): int(r["customers"]) for r in table.to_pylist()}
        return SegmentPoint(snapshot_id, committed_at_ms, counts)

    def segment_history(self) -> SegmentHistory:
        snapshots = {
            int(s["id"]): int(s["time_millis"]) for s in self.warehouse.snapshots(self.tables.segments)
        }
        chosen = pick_snapshots(list(snapshots), self.max_points)
        points = []
        for snapshot_id in chosen:
            with self._lock:
                point = self._counts.get(snapshot_id)
            if point is None:
                point = self._segment_counts(snapshot_id, snapshots[snapshot_id])
                with self._lock:
                    self._counts[snapshot_id] = point
            points.append(point)
        return segment_history(points)

    def rfm_tags(self) -> list[str]:
        return self.warehouse.list_tags(self.tables.profiles)

    def _one(self, table: str, customer_id: int) -> Mapping[str, Any] | None:
        rows = self.warehouse.sql(f"SELECT * FROM {table} WHERE customer_id = {int(customer_id)}").to_pylist()
        return rows[0] if rows else None

    def customer(self, customer_id: int, at: dt.datetime) -> CustomerView:
        at_ms = int(at.timestamp() * 1000)
        decision = decision_in_force(self.warehouse, customer_id, at_ms, self.tables.decisions)
        return CustomerView(
            customer_id=customer_id,
            segment_row=self._one(self.tables.segments, customer_id),
            explanation=tuple(explanation_lines(decision)) if decision is not None else (),
            profile=self._one(self.tables.profiles, customer_id),
        )
