"""The TTL inventory cache, with an injected clock and an in-process reader (pure logic, no I/O)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from persona.inventory import InventoryCache, InventoryReadError, StockLevel, sellable


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class RecordingReader:
    def __init__(self, levels: dict[str, tuple[int, int]]) -> None:
        self.levels = levels
        self.calls: list[list[str]] = []
        self.down = False

    def read_many(self, sku_ids: Collection[str]) -> Mapping[str, StockLevel]:
        self.calls.append(sorted(sku_ids))
        if self.down:
            raise InventoryReadError("unreachable")
        return {s: StockLevel(s, *self.levels[s], updated_at=None) for s in sku_ids if s in self.levels}


def test_sellable_subtracts_reserved_and_never_goes_negative() -> None:
    assert sellable(12, 2) == 10
    assert sellable(3, 5) == 0


def test_misses_are_read_in_one_batch_and_hits_served_until_ttl() -> None:
    clock = FakeClock()
    reader = RecordingReader({"a": (20, 5), "b": (1, 1)})
    cache = InventoryCache(reader, ttl_seconds=5, clock=clock)
    assert cache.sellable(["a", "b", "zz", "a"]) == {"a": 15, "b": 0, "zz": None}
    assert reader.calls == [["a", "b", "zz"]]
    clock.now += 4.9
    assert cache.sellable(["a", "zz"]) == {"a": 15, "zz": None}
    assert len(reader.calls) == 1, "served from cache within the TTL, missing SKUs included"
    reader.levels["a"] = (20, 20)
    clock.now += 0.2
    assert cache.sellable(["a"]) == {"a": 0}
    assert reader.calls[-1] == ["a"]
    assert cache.stats.hits == 2 and cache.stats.misses == 4


def test_unreachable_store_makes_skus_unknown_and_is_retried() -> None:
    clock = FakeClock()
    reader = RecordingReader({"a": (50, 0)})
    cache = InventoryCache(reader, ttl_seconds=5, clock=clock)
    reader.down = True
    assert cache.sellable(["a"]) == {"a": None}
    assert cache.stats.read_errors == 1
    reader.down = False
    assert cache.sellable(["a"]) == {"a": 50}, "a failed read is not cached"


def test_invalidate_forces_a_fresh_read() -> None:
    clock = FakeClock()
    reader = RecordingReader({"a": (50, 0)})
    cache = InventoryCache(reader, ttl_seconds=60, clock=clock)
    cache.sellable(["a"])
    reader.levels["a"] = (0, 0)
    cache.invalidate("a")
    assert cache.sellable(["a"]) == {"a": 0}


def test_size_bound_evicts_instead_of_growing() -> None:
    clock = FakeClock()
    reader = RecordingReader({str(i): (1, 0) for i in range(100)})
    cache = InventoryCache(reader, ttl_seconds=60, clock=clock, max_entries=10)
    for i in range(100):
        clock.now += 0.01
        cache.sellable([str(i)])
    assert len(cache._entries) <= 10


def test_an_inventory_change_replaces_the_cached_stock_without_a_read_and_late_older_ones_are_ignored() -> (
    None
):
    from persona.contracts import InventoryRow

    clock = FakeClock()
    reader = RecordingReader({"a": (20, 5)})
    cache = InventoryCache(reader, ttl_seconds=5, clock=clock)
    assert cache.sellable(["a"]) == {"a": 15}
    cache.record_change(InventoryRow("a", 4, 4, updated_at_ms=2_000))
    assert cache.sellable(["a"]) == {"a": 0}, "the change's own quantities, not the projection's"
    cache.record_change(InventoryRow("a", 9, 0, updated_at_ms=1_000))  # older than the one recorded
    assert cache.sellable(["a"]) == {"a": 0}
    cache.record_change(InventoryRow("new", 7, 2))  # unknown SKU, no updated_at: applies
    assert cache.sellable(["new"]) == {"new": 5}
    assert reader.calls == [["a"]]
    clock.now += 5  # a recorded change expires like a read: the projection is asked again
    assert cache.sellable(["a"]) == {"a": 15} and reader.calls[-1] == ["a"]


class AsyncReader(RecordingReader):
    """Background reads that complete when the test says so (as the driver's thread would)."""

    def __init__(self, levels: dict[str, tuple[int, int]]) -> None:
        super().__init__(levels)
        self.started: list[tuple[list[str], Callable[[Mapping[str, StockLevel] | Exception], None]]] = []

    def read_many_async(
        self, sku_ids: Collection[str], done: Callable[[Mapping[str, StockLevel] | Exception], None]
    ) -> None:
        self.started.append((sorted(sku_ids), done))

    def complete(self, index: int = -1, error: Exception | None = None) -> None:
        skus, done = self.started[index]
        if error is not None:
            done(error)
        else:
            done({s: StockLevel(s, *self.levels[s], updated_at=None) for s in skus if s in self.levels})


def test_a_hit_late_in_its_ttl_is_renewed_in_the_background_once() -> None:
    clock = FakeClock()
    reader = AsyncReader({"a": (20, 5), "b": (3, 0)})
    cache = InventoryCache(reader, ttl_seconds=10, clock=clock, renew_batch=1)  # sent at once
    assert cache.sellable(["a", "b"]) == {"a": 15, "b": 3}
    clock.now += 4  # first half of the TTL: nothing to renew
    assert cache.sellable(["a"]) == {"a": 15} and reader.started == []
    clock.now += 2  # second half: a background re-read of "a", and only one while it is in flight
    reader.levels["a"] = (20, 20)
    assert cache.sellable(["a"]) == {"a": 15}
    assert cache.sellable(["a"]) == {"a": 15}
    assert [skus for skus, _ in reader.started] == [["a"]]
    reader.complete()
    clock.now += 8  # past the first read's expiry: the renewed value, with no synchronous read
    assert cache.sellable(["a"]) == {"a": 0}
    assert reader.calls == [["a", "b"]]
    clock.now += 0.5  # "b" was never renewed: it expired and is read synchronously
    assert cache.sellable(["b"]) == {"b": 3} and reader.calls[-1] == ["b"]


def test_a_change_or_invalidation_during_a_background_read_wins_over_its_older_answer() -> None:
    from persona.contracts import InventoryRow

    clock = FakeClock()
    reader = AsyncReader({"a": (20, 5), "b": (9, 0)})
    cache = InventoryCache(reader, ttl_seconds=10, clock=clock, renew_batch=1)  # sent at once
    cache.sellable(["a", "b"])
    clock.now += 6
    cache.sellable(["a", "b"])  # both renewed in one background read, still in flight
    cache.record_change(InventoryRow("a", 4, 4, updated_at_ms=1))  # "a" sold out meanwhile
    cache.invalidate("b")
    reader.complete()  # the read was sent before the change: its "a" = 15 must not come back
    assert cache.sellable(["a"]) == {"a": 0}
    assert cache.sellable(["b"]) == {"b": 9} and reader.calls[-1] == ["b"], "b is read again, not renewed"


def test_a_failed_background_read_leaves_entries_to_expire_and_be_read_again() -> None:
    clock = FakeClock()
    reader = AsyncReader({"a": (20, 5)})
    cache = InventoryCache(reader, ttl_seconds=10, clock=clock, renew_batch=1)  # sent at once
    cache.sellable(["a"])
    clock.now += 6
    cache.sellable(["a"])
    reader.complete(error=InventoryReadError("timeout"))
    assert cache.stats.refresh_errors == 1
    clock.now += 3
    cache.sellable(["a"])  # still within the TTL of the first read: served, renewed again
    assert len(reader.started) == 2
    clock.now += 2  # expired, renewal not done: never served stale, read synchronously
    assert cache.sellable(["a"]) == {"a": 15} and reader.calls == [["a"], ["a"]]


def test_prefetch_reads_missing_skus_in_the_background_and_says_when_they_are_in() -> None:
    clock = FakeClock()
    reader = AsyncReader({"a": (20, 5), "b": (3, 0)})
    cache = InventoryCache(reader, ttl_seconds=10, clock=clock, load_delay_seconds=0)  # sent at once
    assert cache.prefetch(["a", "b"]) == {"a", "b"}
    assert cache.prefetch(["a"]) == {"a"}, "still loading: asked again, not read again"
    assert [skus for skus, _ in reader.started] == [["a", "b"]]
    reader.complete()
    assert cache.prefetch(["a", "b"]) == set()
    assert cache.sellable(["a", "b"]) == {"a": 15, "b": 3} and reader.calls == [], "no blocking read"
    assert cache.stats.deferrals == 2 and cache.stats.loads == 1 and cache.stats.loaded_skus == 2


def test_a_change_recorded_while_a_prefetch_is_in_flight_wins() -> None:
    from persona.contracts import InventoryRow

    clock = FakeClock()
    reader = AsyncReader({"a": (20, 5)})
    cache = InventoryCache(reader, ttl_seconds=10, clock=clock, load_delay_seconds=0)  # sent at once
    assert cache.prefetch(["a"]) == {"a"}
    cache.record_change(InventoryRow("a", 4, 4, updated_at_ms=1))
    assert cache.prefetch(["a"]) == set()
    reader.complete()
    assert cache.sellable(["a"]) == {"a": 0}


def test_a_failed_prefetch_answers_unknown_until_the_retry_interval_then_reads_again() -> None:
    clock = FakeClock()
    reader = AsyncReader({"a": (20, 5)})
    cache = InventoryCache(reader, ttl_seconds=10, clock=clock, retry_seconds=1.0, load_delay_seconds=0)
    assert cache.prefetch(["a"]) == {"a"}
    reader.complete(error=InventoryReadError("Cassandra is down"))
    assert cache.stats.load_errors == 1
    assert cache.prefetch(["a"]) == set(), "the waiting lookup goes on, with the stock unknown"
    assert cache.sellable(["a"]) == {"a": None} and reader.calls == [], "unknown, never promoted"
    clock.now += 1.5
    assert cache.prefetch(["a"]) == {"a"} and len(reader.started) == 2
    reader.complete()
    assert cache.sellable(["a"]) == {"a": 15}


def test_prefetch_without_background_reads_leaves_the_read_to_sellable() -> None:
    reader = RecordingReader({"a": (20, 5)})
    cache = InventoryCache(reader, ttl_seconds=10, clock=FakeClock())
    assert cache.prefetch(["a"]) == set()
    assert cache.sellable(["a"]) == {"a": 15} and reader.calls == [["a"]]


def test_renewals_are_gathered_into_one_read_of_renew_batch_skus() -> None:
    clock = FakeClock()
    reader = AsyncReader({k: (10, 1) for k in "abcde"})
    cache = InventoryCache(reader, ttl_seconds=10, clock=clock, renew_batch=3, renew_delay_seconds=1.0)
    cache.sellable(list("abcde"))
    clock.now += 6  # all in the second half of their TTL
    cache.sellable(["a"])
    cache.sellable(["b", "a"])
    assert reader.started == [], "two SKUs queued, below the batch and the delay"
    cache.sellable(["c", "d"])
    assert [skus for skus, _ in reader.started] == [["a", "b", "c", "d"]]
    assert cache.stats.refreshes == 1 and cache.stats.refreshed_skus == 4
    reader.complete()
    clock.now += 8  # past the first reads' expiry: renewed without a blocking read; "e" was not
    assert cache.sellable(["a", "b", "c", "d"]) == dict.fromkeys("abcd", 9)
    assert reader.calls == [list("abcde")]


def test_a_queued_renewal_is_sent_once_it_has_waited_renew_delay() -> None:
    clock = FakeClock()
    reader = AsyncReader({"a": (10, 1), "b": (4, 0)})
    cache = InventoryCache(reader, ttl_seconds=10, clock=clock, renew_batch=100, renew_delay_seconds=0.5)
    cache.sellable(["a", "b"])
    clock.now += 6
    cache.sellable(["a"])
    clock.now += 0.4
    cache.sellable(["b"])  # "b" joins the queue "a" opened 0.4 s ago
    assert reader.started == []
    clock.now += 0.1  # the oldest has waited the delay: the next lookup sends, with no new renewal
    cache.sellable([])
    assert [skus for skus, _ in reader.started] == [["a", "b"]]


def test_a_change_or_invalidation_revokes_a_queued_renewal() -> None:
    from persona.contracts import InventoryRow

    clock = FakeClock()
    reader = AsyncReader({"a": (20, 5), "b": (9, 0), "c": (7, 0)})
    cache = InventoryCache(reader, ttl_seconds=10, clock=clock, renew_batch=3, renew_delay_seconds=1.0)
    cache.sellable(["a", "b", "c"])
    clock.now += 6
    cache.sellable(["a", "b"])  # queued, not sent
    cache.record_change(InventoryRow("a", 4, 4, updated_at_ms=1))
    cache.invalidate("b")
    cache.sellable(["c"])
    cache.sellable(["b"])  # read again synchronously (invalidated), then renewed later, not now
    clock.now += 1.0
    cache.sellable([])
    assert [skus for skus, _ in reader.started] == [["c"]], "a and b left the queue"
    reader.complete()
    assert cache.sellable(["a"]) == {"a": 0}, "the change stands"


def test_a_lookup_that_needs_an_expired_queued_sku_sends_the_queue_at_once() -> None:
    clock = FakeClock()
    reader = AsyncReader({"a": (10, 1)})
    cache = InventoryCache(
        reader, ttl_seconds=10, clock=clock, renew_batch=100, renew_delay_seconds=60, load_delay_seconds=0
    )
    assert cache.prefetch(["a"]) == {"a"}
    reader.complete()
    clock.now += 6
    assert cache.prefetch(["a"]) == set() and cache.sellable(["a"]) == {"a": 9}  # queued for renewal
    assert len(reader.started) == 1
    clock.now += 5  # expired while queued: set aside, and its queued read goes out now, once
    reader.levels["a"] = (10, 8)
    assert cache.prefetch(["a"]) == {"a"}
    assert cache.prefetch(["a"]) == {"a"}
    assert [skus for skus, _ in reader.started] == [["a"], ["a"]]
    reader.complete()
    assert cache.prefetch(["a"]) == set() and cache.sellable(["a"]) == {"a": 2}
    assert reader.calls == [], "never a blocking read"


def test_missing_skus_of_several_lookups_are_loaded_in_one_read_after_load_delay() -> None:
    clock = FakeClock()
    reader = AsyncReader({"a": (5, 0), "b": (6, 0), "c": (7, 0)})
    cache = InventoryCache(reader, ttl_seconds=10, clock=clock, load_delay_seconds=0.05, load_batch=100)
    assert cache.prefetch(["a"]) == {"a"}
    clock.now += 0.02
    assert cache.prefetch(["b", "a"]) == {"a", "b"}
    assert reader.started == [], "queued: neither the delay nor the batch is reached"
    clock.now += 0.04  # the oldest has waited the delay: the next lookup sends all of them, once
    assert cache.prefetch(["c"]) == {"c"}
    assert [skus for skus, _ in reader.started] == [["a", "b", "c"]]
    assert cache.prefetch(["a", "b", "c"]) == {"a", "b", "c"}
    assert len(reader.started) == 1, "in flight: not asked for again"
    reader.complete()
    assert cache.prefetch(["a", "b", "c"]) == set()
    assert cache.sellable(["a", "b", "c"]) == {"a": 5, "b": 6, "c": 7} and reader.calls == []
    assert cache.stats.loads == 1 and cache.stats.loaded_skus == 3


def test_a_full_load_queue_is_sent_without_waiting() -> None:
    clock = FakeClock()
    reader = AsyncReader({k: (1, 0) for k in "abc"})
    cache = InventoryCache(reader, ttl_seconds=10, clock=clock, load_delay_seconds=60, load_batch=2)
    assert cache.prefetch(["a"]) == {"a"} and reader.started == []
    assert cache.prefetch(["b", "c"]) == {"b", "c"}
    assert [skus for skus, _ in reader.started] == [["a", "b", "c"]]


def test_renewals_wait_at_most_a_quarter_of_the_ttl() -> None:
    clock = FakeClock()
    reader = AsyncReader({"a": (3, 0)})
    cache = InventoryCache(reader, ttl_seconds=2, clock=clock, renew_delay_seconds=30, load_delay_seconds=0)
    cache.prefetch(["a"])
    reader.complete()
    clock.now += 1.2  # second half of the TTL: queued
    cache.sellable(["a"])
    clock.now += 0.49
    cache.sellable([])
    assert len(reader.started) == 1
    clock.now += 0.01  # 0.5 s = TTL / 4 waited: sent, before the entry expires at 2 s
    cache.sellable([])
    assert [skus for skus, _ in reader.started] == [["a"], ["a"]]


def test_queued_renewals_ride_along_with_a_load_burst() -> None:
    clock = FakeClock()
    reader = AsyncReader({"a": (10, 1), "b": (4, 0)})
    cache = InventoryCache(
        reader, ttl_seconds=10, clock=clock, renew_batch=100, renew_delay_seconds=1.0, load_delay_seconds=0
    )
    cache.sellable(["a"])
    clock.now += 6
    cache.sellable(["a"])  # renewal queued: neither its batch nor its delay is reached
    assert reader.started == []
    assert cache.prefetch(["b"]) == {"b"}  # a load goes out now, and takes the queued renewal along
    assert sorted(skus for skus, _ in reader.started) == [["a"], ["b"]]
    assert cache.stats.loads == 1 and cache.stats.refreshes == 1
    reader.complete(0)
    reader.complete(1)
    clock.now += 5  # past "a"'s first read: served from the renewal, without a blocking read
    assert cache.sellable(["a", "b"]) == {"a": 9, "b": 4}
    assert reader.calls == [["a"]]
