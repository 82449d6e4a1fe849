"""The decision in force for a customer at a time, and its explanation, read from ``segment_decisions``.

A decision is in force from the moment it is made until the customer's next one, so the decision in
force at ``at`` is the newest row of the customer decided at or before it. ``persona segments
explain`` prints it; the console shows it. ``explanation_lines`` is pure (a row in, lines out).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from persona.paimon.catalog import PaimonWarehouse


def decision_in_force(
    warehouse: PaimonWarehouse, customer_id: int, at_ms: int, table: str = "segment_decisions"
) -> dict[str, Any] | None:
    """The newest ``segment_decisions`` row of ``customer_id`` decided at or before ``at_ms``."""
    at = dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC).replace(tzinfo=None)
    query = (
        f"SELECT * FROM {table} "
        f"WHERE customer_id = {int(customer_id)} AND decided_at <= TIMESTAMP '{at.isoformat(sep=' ')}' "
        "ORDER BY decided_at DESC, version DESC LIMIT 1"
    )
    rows = warehouse.sql(query).to_pylist()
    return rows[0] if rows else None


def explanation_lines(row: Mapping[str, Any]) -> list[str]:
    """A ``segment_decisions`` row as the lines `segments explain` prints: the segment and since when,
    the event, the rule that fired, the profile and RFM it used, the stock it saw, what it recommended."""
    inputs = json.loads(row["candidates_json"] or "{}")
    version_label = row["profile_tag"] or f"snapshot {row['profile_snapshot']}"
    profile = (
        "no profile row"
        if row["profile_segment"] is None and row["profile_rfm_as_of"] is None
        else (
            f"segment={row['profile_segment']} recency={row['profile_recency']} "
            f"frequency={row['profile_frequency']} monetary={row['profile_monetary']} "
            f"as of {row['profile_rfm_as_of']} ({version_label})"
        )
    )
    candidates = ", ".join(
        f"{c['sku_id']}={'unknown' if c['sellable'] is None else c['sellable']}"
        for c in inputs.get("candidates", [])
    )
    return [
        f"customer {row['customer_id']} was {row['segment']} from {row['decided_at']}Z "
        f"(decision version {row['version']}, logic {row['logic_version']})",
        f"  event:          {row['event_id']} {row['event_type']} sku={row['sku_id']} at {row['event_time']}Z",
        f"  rule fired:     {row['rule']}",
        f"  profile:        {profile}",
        f"  newer orders:   {inputs.get('adjusting_order_ids', [])}",
        f"  effective RFM:  recency={row['effective_recency']} frequency={row['effective_frequency']} "
        f"monetary={row['effective_monetary']}",
        f"  event SKU sellable: {inputs.get('event_sku_sellable')}",
        f"  candidates (sellable seen): {candidates or 'none'}",
        f"  recommendation: {row['recommendation']}  score: {row['score']}",
        *(
            [f"  channel preference: {row['channel_preference']}"]
            if row.get("channel_preference") is not None
            else []
        ),
    ]
