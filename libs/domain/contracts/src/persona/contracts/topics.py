"""Topic names shared by the flows, the stack bootstrap and the tools."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    """Every topic persona reads or writes; a prefix gives tests a private set."""

    behavior_events: str = "behavior_events"
    orders_cdc: str = "orders_cdc"
    inventory_changes: str = "inventory_changes"
    # cdc flow -> enrich flow: normalized order facts keyed by customer_id.
    order_facts: str = "order_facts"
    # enrich flow -> sink flow: each decision with its audit record, for Paimon.
    segment_decisions: str = "segment_decisions"
    marketing_segments_rt: str = "marketing_segments_rt"
    # `persona erase` -> enrich flow: GDPR erasure requests keyed by customer_id (docs/erasure.md).
    erasures: str = "erasures"

    @classmethod
    def with_prefix(cls, prefix: str) -> Topics:
        base = cls()
        return cls(**{name: prefix + value for name, value in base.__dict__.items()})

    @staticmethod
    def dlq(topic: str) -> str:
        return f"{topic}.dlq"

    def consumed(self) -> list[str]:
        """Topics a flow reads."""
        return [
            self.behavior_events,
            self.orders_cdc,
            self.inventory_changes,
            self.order_facts,
            self.segment_decisions,
            self.erasures,
        ]

    def all_topics(self) -> list[str]:
        """Every topic, and a dead-letter topic for each: what a flow cannot use (a topic it reads) or
        cannot write (a record Kafka refuses for itself, on any topic it writes) goes there."""
        names = list(self.__dict__.values())
        return names + [self.dlq(t) for t in names]

    def compacted(self) -> set[str]:
        # The real-time segments topic holds the latest row per customer (and GDPR tombstones).
        return {self.marketing_segments_rt}
