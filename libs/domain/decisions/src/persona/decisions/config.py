"""Configuration of a logic version: every threshold of DESIGN §4 lives here, not as a literal in code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LogicV1Config:
    """Logic ``v1`` (DESIGN §4). A ``marketing-v2`` branch runs the same code with another config/version.

    Comparisons are exactly those of the spec: VIP_HIGH_INVENTORY needs sellable(event sku) *strictly
    greater* than ``vip_min_sellable``; ACTIVE needs recency *strictly less* than
    ``active_max_recency_days``.
    """

    logic_version: str = "v1"
    vip_segment: str = "VIP"
    vip_min_sellable: int = 10
    active_max_recency_days: int = 7
    max_recommendations: int = 5
    weight_frequency: float = 0.5
    weight_monetary: float = 0.1
    recommendation_prefix: str = "sku:"
    # State bounds (see persona.decisions.state): SKUs remembered per customer for recommendations, and
    # decided event ids remembered per customer for de-duplication.
    recent_sku_capacity: int = 20
    # 32: duplicates come from retries and redeliveries seconds to minutes apart (persona.decisions.state),
    # and every id held is memory per customer for the flow's whole life (BENCHMARKS.md).
    seen_event_capacity: int = 32

    def __post_init__(self) -> None:
        if not self.logic_version:
            raise ValueError("logic_version must be non-empty")
        if self.max_recommendations < 0:
            raise ValueError("max_recommendations must be >= 0")
        # Recommendations are drawn from the remembered SKUs, so remembering fewer than we may recommend
        # would silently cap the list below max_recommendations.
        if self.recent_sku_capacity < self.max_recommendations:
            raise ValueError("recent_sku_capacity must be >= max_recommendations")
        if self.seen_event_capacity < 1:
            raise ValueError("seen_event_capacity must be >= 1")


DEFAULT_CONFIG = LogicV1Config()
