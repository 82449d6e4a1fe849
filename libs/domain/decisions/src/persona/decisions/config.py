"""Logic versions: a name, a rules id and every threshold of DESIGN §4 (none is a literal in code).

A logic version is a frozen value (``LogicConfig``). ``v1`` runs rules ``v1`` (DESIGN §4); ``v2`` runs
rules ``v2``, which add, for the marketer:

- ``VIP_WINBACK``: a VIP of the nightly profile whose effective recency is at or above
  ``active_max_recency_days`` (or unknown), and who is not VIP_HIGH_INVENTORY, is a win-back target
  instead of being lumped with every other DORMANT customer.
- ``channel_preference``: the channel the customer used most among their last ``recent_channel_capacity``
  events that named one (this event included); ties go to the most recently used of them. Null when
  none named a channel. Rules ``v1`` leave it null.

The versioned store of logic versions (``persona.paimon.logic_store``) keeps each as a row whose
thresholds are ``logic_to_json``'s document; ``logic_from_json`` reads it back.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Final

RULES_V1: Final = "v1"
RULES_V2: Final = "v2"
RULES: Final = frozenset({RULES_V1, RULES_V2})


@dataclass(frozen=True, slots=True)
class LogicConfig:
    """A logic version (DESIGN §4): ``logic_version`` names it, ``rules`` says which rules it runs
    (``v1``, ``v2``, see the module), the other fields are its thresholds.

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
    rules: str = RULES_V1
    # Rules v2's channel_preference: the channels of the customer's last N events naming one.
    recent_channel_capacity: int = 10
    vip_winback_segment: str = "VIP_WINBACK"

    def __post_init__(self) -> None:
        if not self.logic_version:
            raise ValueError("logic_version must be non-empty")
        if self.rules not in RULES:
            raise ValueError(f"rules must be one of {sorted(RULES)}, not {self.rules!r}")
        if self.recent_channel_capacity < 1:
            raise ValueError("recent_channel_capacity must be >= 1")
        if self.max_recommendations < 0:
            raise ValueError("max_recommendations must be >= 0")
        # Recommendations are drawn from the remembered SKUs, so remembering fewer than we may recommend
        # would silently cap the list below max_recommendations.
        if self.recent_sku_capacity < self.max_recommendations:
            raise ValueError("recent_sku_capacity must be >= max_recommendations")
        if self.seen_event_capacity < 1:
            raise ValueError("seen_event_capacity must be >= 1")


LogicV1Config = LogicConfig
"""The name this class had while v1 was the only version."""

DEFAULT_CONFIG = LogicConfig()
V1: Final = DEFAULT_CONFIG
V2: Final = LogicConfig(logic_version="v2", rules=RULES_V2)
BUILTIN_VERSIONS: Final = {V1.logic_version: V1, V2.logic_version: V2}
"""The versions this code ships; a store may hold others (other thresholds over the same rules)."""


def logic_to_json(config: LogicConfig) -> str:
    """Every field of ``config`` as one JSON object (keys sorted): the logic store's ``config`` column."""
    return json.dumps(dataclasses.asdict(config), sort_keys=True)


def logic_from_json(text: str) -> LogicConfig:
    """The ``LogicConfig`` of ``logic_to_json``'s document. Fields this code does not know are an
    error (a newer writer's version must not run with thresholds silently dropped); missing fields take
    their defaults (a version stored before a threshold existed)."""
    data: Any = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"a logic version is a JSON object, not {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(LogicConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown logic version field(s): {', '.join(unknown)}")
    return LogicConfig(**data)
