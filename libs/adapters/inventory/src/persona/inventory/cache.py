"""A TTL cache in front of an ``InventoryReader`` (the shape of bytewax's ``op.enrich_cached``).

Misses of one lookup are read together in one batched call. If the store cannot be read, the SKUs
are reported unknown (``None``) for this lookup and nothing is cached, so the next lookup retries;
a decision never promotes stock it could not see.

Refresh-ahead: when the reader can read asynchronously, a hit in the second half of its TTL starts
a background re-read of that SKU, so SKUs in steady use are renewed before they expire and only
cold SKUs cost the caller a read: a synchronous read per batch would stall the enrich flow.
What is served is still never older than the TTL since its read. An inventory change recorded, or
an invalidation, while a re-read is in flight wins over that re-read's older answer.

Reads are gathered into bursts, not sent per lookup, because Cassandra's cost is mostly per burst of
requests (its request threads wake, spin and park once per burst), not per row; the enrich flow
looks up a few SKUs per shard and polled batch, and sent as they came those would be many small
bursts a second (BENCHMARKS.md has the measurements). So:

* a SKU due for renewal joins a queue sent as one read once it holds ``renew_batch`` SKUs or its
  oldest has waited ``renew_delay_seconds`` (at most a quarter of the TTL, so renewals still land
  before expiry);
* a SKU ``prefetch`` finds missing joins a queue sent after ``load_delay_seconds`` (or at
  ``load_batch`` SKUs): the decisions that need it wait that much longer, instead of each shard
  and batch sending its own read. The renewals queued by then go in the same burst.

Queued SKUs count as in flight: a change or invalidation revokes their read, and a lookup that needs
an expired queued renewal sends that queue at once. The queues are sent from lookups (the enrich
flow's shards look up again every few milliseconds while decisions wait), never from a timer.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from persona.contracts import InventoryRow
from persona.inventory.cassandra_store import InventoryReadError
from persona.inventory.protocol import InventoryReader, StockLevel


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    read_errors: int = 0
    reads: int = 0
    read_seconds: float = 0.0
    # background re-reads sent (renewals) and the SKUs they asked for
    refreshes: int = 0
    refreshed_skus: int = 0
    refresh_errors: int = 0
    # prefetch: lookups that had to wait for a background read, and those reads (failed ones too)
    deferrals: int = 0
    loads: int = 0
    loaded_skus: int = 0
    load_errors: int = 0


@dataclass
class _ReadQueue:
    """SKUs waiting to be read together, under one in-flight token, since ``since``."""

    batch: int
    delay: float
    skus: dict[str, None] = field(default_factory=dict)
    token: int = 0
    since: float = 0.0

    def due(self, now: float) -> bool:
        return bool(self.skus) and (len(self.skus) >= self.batch or now - self.since >= self.delay)


class InventoryCache:
    def __init__(
        self,
        reader: InventoryReader,
        *,
        ttl_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 1_000_000,
        retry_seconds: float = 1.0,
        renew_batch: int = 5_000,
        renew_delay_seconds: float = 1.0,
        load_batch: int = 2_000,
        load_delay_seconds: float = 0.2,
    ) -> None:
        self._reader = reader
        self._ttl = ttl_seconds
        self._clock = clock
        self._max_entries = max_entries
        # sku -> (expires_at, sellable or None when the SKU does not exist)
        self._entries: dict[str, tuple[float, int | None]] = {}
        # sku -> updated_at of the newest inventory change recorded, to ignore late older ones
        self._changed_at: dict[str, int] = {}
        # sku -> token of its background re-read in flight; a change or invalidation revokes it
        self._inflight: dict[str, int] = {}
        self._tokens = itertools.count(1)
        # sku -> until when a failed background read answers "unknown" for it without reading again
        self._failed: dict[str, float] = {}
        self._retry = retry_seconds
        self._read_async = getattr(reader, "read_many_async", None)
        self._refresh_after = ttl_seconds / 2
        # Reads not sent yet; a queue's SKUs share one token (in ``_inflight``) from when they queue.
        self._renewals = _ReadQueue(max(1, renew_batch), min(renew_delay_seconds, ttl_seconds / 4))
        self._loads = _ReadQueue(max(1, load_batch), load_delay_seconds)
        self.stats = CacheStats()

    def sellable(self, sku_ids: Iterable[str]) -> dict[str, int | None]:
        """Sellable quantity per SKU; ``None`` means unknown (missing or unreadable)."""
        now = self._clock()
        result: dict[str, int | None] = {}
        missing: list[str] = []
        renew: list[str] = []
        # An entry expiring before this instant is in the second half of its TTL: renew it.
        renew_before = now + self._ttl - self._refresh_after
        entries = self._entries
        failed = self._failed
        for sku in sku_ids:
            if sku in result:
                continue
            entry = entries.get(sku)
            if entry is not None and entry[0] > now:
                result[sku] = entry[1]
                self.stats.hits += 1
                if entry[0] < renew_before:
                    renew.append(sku)
            else:
                result[sku] = None
                if failed and failed.get(sku, 0.0) > now:
                    continue  # its background read just failed: unknown, without waiting again
                missing.append(sku)
        if renew and self._read_async is not None:
            self._refresh(renew, now)
        elif self._renewals.due(now):
            self._send(self._renewals, missing=False)
        if not missing:
            return result
        self.stats.misses += len(missing)
        started = time.perf_counter()
        try:
            rows = self._reader.read_many(missing)
        except InventoryReadError:
            self.stats.read_errors += 1
            return result
        finally:
            self.stats.reads += 1
            self.stats.read_seconds += time.perf_counter() - started
        if len(self._entries) + len(missing) > self._max_entries:
            self._evict_expired(now)
        expires = now + self._ttl
        for sku in missing:
            row = rows.get(sku)
            value = None if row is None else row.sellable
            self._entries[sku] = (expires, value)
            result[sku] = value
        return result

    def prefetch(self, sku_ids: Iterable[str]) -> set[str]:
        """The SKUs of ``sku_ids`` that ``sellable`` could not answer now without reading the store.

        Those are read in the background (once: a SKU already being read is not asked for again);
        the caller sets aside what needs them and asks again later. Empty: everything is at hand. A
        reader without asynchronous reads always gets an empty set: ``sellable`` then reads as before.
        """
        if self._read_async is None:
            return set()
        now = self._clock()
        entries = self._entries
        failed = self._failed
        inflight = self._inflight
        unready: set[str] = set()
        load: list[str] = []
        renew_now = False
        renewals = self._renewals.token
        for sku in sku_ids:
            entry = entries.get(sku)
            if entry is not None and entry[0] > now:
                continue
            if failed and failed.get(sku, 0.0) > now:
                continue
            if sku in unready:
                continue
            unready.add(sku)
            token = inflight.get(sku)
            if token is None:
                load.append(sku)
            elif token == renewals:
                renew_now = True  # expired while its renewal waited in the queue
        if unready:
            self.stats.deferrals += 1
        if load:
            self._enqueue(self._loads, load, now)
        if self._loads.due(now):
            self._send(self._loads, missing=True)
            # Queued renewals ride along: Cassandra pays per burst, and these are due within a
            # second anyway (sent early, they are served no longer than their TTL since this read).
            renew_now = renew_now or bool(self._renewals.skus)
        if renew_now:
            self._send(self._renewals, missing=False)
        return unready

    def record_change(self, row: InventoryRow) -> None:
        """An ``inventory_changes`` record: its quantities are the SKU's stock from now on, for a TTL.

        The change itself is used rather than a re-read, so a projection that lags the change topic
        cannot hand the old stock back. A change older (``updated_at``) than one already recorded for
        the SKU is ignored; a change without ``updated_at`` always applies.
        """
        at = row.updated_at_ms
        self._inflight.pop(row.sku_id, None)
        if at is not None:
            last = self._changed_at.get(row.sku_id)
            if last is not None and at < last:
                return
            self._changed_at[row.sku_id] = at
        if len(self._entries) >= self._max_entries:
            self._evict_expired(self._clock())
        self._entries[row.sku_id] = (self._clock() + self._ttl, row.sellable)
        self._failed.pop(row.sku_id, None)

    def invalidate(self, sku_id: str) -> None:
        """Forget one SKU (an ``inventory_changes`` record says it changed)."""
        self._inflight.pop(sku_id, None)
        self._entries.pop(sku_id, None)

    def _refresh(self, skus: list[str], now: float) -> None:
        """Queue the renewal of ``skus`` (those not in flight or queued already); send the queue
        when it is full or its oldest has waited long enough."""
        self._enqueue(self._renewals, [s for s in skus if s not in self._inflight], now)
        if self._renewals.due(now):
            self._send(self._renewals, missing=False)

    def _enqueue(self, queue: _ReadQueue, skus: list[str], now: float) -> None:
        """Queue ``skus`` (none in flight): from now they are in flight under the queue's token."""
        if not skus:
            return
        if not queue.skus:
            queue.token = next(self._tokens)
            queue.since = now
        inflight = self._inflight
        token = queue.token
        for sku in skus:
            inflight[sku] = token
            queue.skus[sku] = None

    def _send(self, queue: _ReadQueue, *, missing: bool) -> None:
        token = queue.token
        inflight = self._inflight
        # A change or invalidation since queueing revoked its SKU's read.
        wanted = [s for s in queue.skus if inflight.get(s) == token]
        queue.skus = {}
        queue.token = 0
        if not wanted:
            return
        if missing:
            self.stats.loads += 1
            self.stats.loaded_skus += len(wanted)
        else:
            self.stats.refreshes += 1
            self.stats.refreshed_skus += len(wanted)
        self._read_in_background(wanted, missing=missing, token=token)

    def _read_in_background(self, wanted: list[str], *, missing: bool, token: int) -> None:
        """Read ``wanted`` (queued under ``token``) asynchronously into the cache.

        ``missing``: they are not cached (``prefetch``), so a failure marks them unknown for
        ``retry_seconds``; a failed re-read of cached SKUs (refresh-ahead) leaves them to expire.
        """

        def done(rows: Mapping[str, StockLevel] | Exception) -> None:
            # Runs on the reader's thread; single dict operations are atomic under the GIL.
            inflight = self._inflight
            if isinstance(rows, Exception):
                now = self._clock()
                retry_at = now + self._retry
                if missing and len(self._failed) > self._max_entries // 10:
                    self._failed = {k: t for k, t in self._failed.items() if t > now}
                if missing:
                    self.stats.load_errors += 1
                else:
                    self.stats.refresh_errors += 1
                for sku in wanted:
                    if inflight.get(sku) == token:
                        del inflight[sku]
                        if missing:
                            self._failed[sku] = retry_at
                return
            expires = self._clock() + self._ttl
            for sku in wanted:
                if inflight.get(sku) != token:
                    continue  # a change or invalidation came after this read was sent
                del inflight[sku]
                self._failed.pop(sku, None)
                row = rows.get(sku)
                self._entries[sku] = (expires, None if row is None else row.sellable)

        assert self._read_async is not None
        try:
            self._read_async(wanted, done)
        except Exception as error:  # could not even start: same as a failed read
            done(error)

    def _evict_expired(self, now: float) -> None:
        self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
        if len(self._entries) > self._max_entries // 2:
            # Still too big: drop the oldest half rather than grow without bound.
            keep = sorted(self._entries.items(), key=lambda kv: kv[1][0])[len(self._entries) // 2 :]
            self._entries = dict(keep)
