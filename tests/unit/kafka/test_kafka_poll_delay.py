"""How long a source partition waits between polls (``persona.kafka.bytewax_io.next_poll_delay``)."""

from __future__ import annotations

from datetime import timedelta

from persona.kafka.bytewax_io import IDLE_POLL_INTERVAL, POLL_INTERVAL, next_poll_delay


def test_a_full_batch_is_followed_by_the_next_poll_at_once() -> None:
    assert next_poll_delay(1000, 1000, 0) is None


def test_a_partial_batch_waits_the_short_interval() -> None:
    assert next_poll_delay(1, 1000, 0) == POLL_INTERVAL


def test_empty_polls_in_a_row_double_the_wait_up_to_the_idle_interval() -> None:
    delays = [next_poll_delay(0, 1000, n) for n in range(1, 9)]
    ms = [d.total_seconds() * 1000 for d in delays if d is not None]
    assert ms == [5, 10, 20, 40, 50, 50, 50, 50]
    assert max(delays, key=lambda d: d or timedelta(0)) == IDLE_POLL_INTERVAL


def test_a_long_idle_stretch_stays_at_the_idle_interval() -> None:
    assert next_poll_delay(0, 1000, 10**6) == IDLE_POLL_INTERVAL
