"""The rule that keeps an erased customer erased (docs/erasure.md).

After ``persona erase`` the enrich flow keeps one fact about the customer: the instant of the erasure
(``requested_at``). A record of the customer is judged by its own time — a behavior event's
``event_time``, an order's ``order_time``, a ``customer_profile`` row's ``rfm_as_of`` (the end of
that day: the profile sums the orders up to it):

- at or before the erasure: it belongs to the erased past (a replay of the input topics, a late
  redelivery, a change to an order placed before the erasure) and is dropped, so it cannot bring the
  customer back;
- after it: the customer came back (a new visit, a new order) and is a new customer from that record on,
  with no history: no earlier events, orders, profile or version gaps are restored.

The customer's version counter is not reset, so ``marketing_segments_rt`` consumers that drop stale
rows by ``version`` accept the comeback's rows after the tombstone.
"""

from __future__ import annotations

from datetime import date

from persona.contracts import DAY_MS, date_to_day


def is_erased_past(erased_at_ms: int | None, record_time_ms: int) -> bool:
    """Whether a record of time ``record_time_ms`` belongs to a customer's erased past: true when the
    customer was erased (``erased_at_ms`` not None) at or after that time."""
    return erased_at_ms is not None and record_time_ms <= erased_at_ms


def profile_is_erased_past(erased_at_ms: int | None, rfm_as_of: date) -> bool:
    """Whether a profile computed as of ``rfm_as_of`` belongs to a customer's erased past: a profile
    read before the erasure reached the profile store, or a nightly run over a CRM that still held
    the customer's old orders. One as of a later day is the comeback's."""
    return erased_at_ms is not None and (date_to_day(rfm_as_of) + 1) * DAY_MS - 1 <= erased_at_ms
