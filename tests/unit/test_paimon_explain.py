"""The explanation of a decision (``segments explain`` and the console), from a segment_decisions row."""

from __future__ import annotations

import json
from typing import Any

from persona.paimon import explanation_lines


def _row(**over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "customer_id": 42,
        "segment": "vip",
        "decided_at": "2026-12-07 01:00:00",
        "version": 3,
        "logic_version": "v1",
        "event_id": "e-1",
        "event_type": "view",
        "sku_id": "SKU-1",
        "event_time": "2026-12-07 00:59:58",
        "rule": "high_monetary",
        "profile_segment": "loyal",
        "profile_recency": 5,
        "profile_frequency": 4,
        "profile_monetary": 3,
        "profile_rfm_as_of": "2026-12-06",
        "profile_tag": "rfm-20261206",
        "profile_snapshot": 9,
        "effective_recency": 5,
        "effective_frequency": 5,
        "effective_monetary": 4,
        "candidates_json": json.dumps(
            {
                "candidates": [{"sku_id": "SKU-2", "sellable": True}, {"sku_id": "SKU-3", "sellable": None}],
                "adjusting_order_ids": [77],
                "event_sku_sellable": False,
            }
        ),
        "recommendation": "SKU-2",
        "score": 0.9,
    }
    return {**row, **over}


def test_every_input_of_the_decision_is_named() -> None:
    lines = explanation_lines(_row())
    assert lines[0] == ("customer 42 was vip from 2026-12-07 01:00:00Z (decision version 3, logic v1)")
    text = "\n".join(lines)
    assert "rule fired:     high_monetary" in text
    assert "as of 2026-12-06 (rfm-20261206)" in text
    assert "newer orders:   [77]" in text
    assert "candidates (sellable seen): SKU-2=True, SKU-3=unknown" in text
    assert "event SKU sellable: False" in text
    assert "recommendation: SKU-2  score: 0.9" in text


def test_no_profile_and_untagged_snapshot() -> None:
    assert "  profile:        no profile row" in explanation_lines(
        _row(profile_segment=None, profile_rfm_as_of=None)
    )
    text = "\n".join(explanation_lines(_row(profile_tag=None, candidates_json=None)))
    assert "(snapshot 9)" in text
    assert "candidates (sellable seen): none" in text
