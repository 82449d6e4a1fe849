"""A complete, valid decision for tests that need one and care about a few of its fields only.

On the tests' import path (pytest's ``pythonpath``), for unit and integration tests alike.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import msgspec

from persona.contracts import CandidateSku, DecisionAudit

SAMPLE_EVENT_MS = 1_795_000_000_000  # 2026-11-18T09:46:40Z


def sample_audit(**changes: Any) -> DecisionAudit:
    """A VIP customer's view of a sellable SKU, decided VIP_HIGH_INVENTORY by logic v1 with a nightly
    profile (``rfm-20261117``); ``changes`` replace fields (validated as the struct's)."""
    audit = DecisionAudit(
        event_id="e-1",
        event_time_ms=SAMPLE_EVENT_MS,
        event_type="view",
        event_sku_id="A",
        customer_id=42,
        profile_found=True,
        profile_segment="VIP",
        profile_recency=3,
        profile_frequency=7,
        profile_monetary=Decimal("50.00"),
        profile_rfm_as_of=dt.date(2026, 11, 17),
        profile_snapshot="rfm-20261117",
        adjusting_order_ids=(),
        recency=1,
        frequency=9,
        monetary=Decimal("75.25"),
        event_sku_sellable=40,
        candidates=(CandidateSku("A", 40),),
        rule="vip_and_event_sku_sellable_above_min",
        segment="VIP_HIGH_INVENTORY",
        recommendation=("sku:A",),
        score=10.5,
        logic_version="v1",
        decided_at_ms=SAMPLE_EVENT_MS + 1_500,
    )
    return msgspec.structs.replace(audit, **changes)
