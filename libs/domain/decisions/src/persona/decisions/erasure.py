"""The rule that keeps an erased customer erased (docs/erasure.md).

After ``persona erase`` the enrich flow keeps one fact about the customer: the instant of the erasure
(``requested_at``). A record of the customer is judged by its own time — a behavior event's
``event_time``, an order's ``order_time``:

- at or before the erasure: it belongs to the erased past (a replay of the input topics, a late
  redelivery, a change to an order placed before the erasure) and is dropped, so it cannot bring the
  customer back;
- after it: the customer came back (a new visit, a new order) and is a new customer from that record on,
  with no history: no earlier events, orders, profile or version gaps are restored.

The customer's version counter is not reset, so ``marketing_segments_rt`` consumers that drop stale
rows by ``version`` accept the comeback's rows after the tombstone.
"""

from __future__ import annotations


def is_erased_past(erased_at_ms: int | None, record_time_ms: int) -> bool:
    """Whether a record of time ``record_time_ms`` belongs to a customer's erased past: true when the
    customer was erased (``erased_at_ms`` not None) at or after that time."""
    return erased_at_ms is not None and record_time_ms <= erased_at_ms
