"""PERSONA_ENRICH_MAX_CUSTOMERS: a shard keeps at most that many customers in memory, and eviction
never changes a decision: a shard bounded to a handful of customers sends exactly what an unbounded
one sends, re-decisions on sell-out and a restore included."""

from __future__ import annotations

import random
from pathlib import Path

from test_enrich_redecide import _event
from test_flows_golden import DictInventory, DictProfiles

from persona.contracts import InventoryRow
from persona.flows.enrich import CustomerShard, ShardSnapshot
from persona.flows.enrich.flow import EnrichContext
from persona.kafka.bytewax_io import OutRecord
from persona.settings import PipelineSettings

BOUND = 6
SKUS = [f"S{i}" for i in range(8)]


def _shard(
    state_dir: Path, bound: int, resume: ShardSnapshot | None = None, inventory: DictInventory | None = None
) -> CustomerShard:
    settings = PipelineSettings(enrich_state_dir=str(state_dir), enrich_max_customers=bound)
    inventory = inventory or DictInventory(dict.fromkeys(SKUS, 5))
    ctx = EnrichContext(settings, DictProfiles({}), inventory, clock=lambda: 1_800_000_000.0)
    return CustomerShard(ctx, resume)


def _batches(seed: int, customers: int, events: int) -> list[list[object]]:
    """Events of a few active customers among many (so some idle, leave and return), with sell-outs."""
    rng = random.Random(seed)
    items: list[object] = []
    for n in range(events):
        customer = rng.randint(1, customers) if rng.random() < 0.5 else rng.randint(1, 3)
        items.append(_event(f"e-{n}", customer, rng.choice(SKUS), n % 60))
        if n % 37 == 36:
            items.append(InventoryRow(rng.choice(SKUS), 0, 0))  # sold out: its holders re-decided
        if n % 41 == 40:
            items.append(InventoryRow(rng.choice(SKUS), 9, 0))
    return [items[i : i + 15] for i in range(0, len(items), 15)]


def _feed(shard: CustomerShard, batch: list[object]) -> list[OutRecord]:
    out, _keep = shard.on_batch([batch])  # type: ignore[list-item]
    return [r for records in out for r in records]


def test_a_bounded_shard_decides_exactly_as_an_unbounded_one(tmp_path: Path) -> None:
    bounded, unbounded = _shard(tmp_path / "b", BOUND), _shard(tmp_path / "u", 0)
    for batch in _batches(seed=5, customers=40, events=400):
        assert _feed(bounded, batch) == _feed(unbounded, batch)
        bounded.snapshot()
        unbounded.snapshot()
        # After a snapshot the shard holds at most its bound (evicting down to 90% of it).
        assert len(bounded.customers) <= BOUND
    assert bounded.evictions > 0 and bounded.returns > 0, "the scenario must evict and bring back"
    assert len(unbounded.customers) > 3 * BOUND


def test_a_restored_bounded_shard_still_decides_exactly(tmp_path: Path) -> None:
    bounded, unbounded = _shard(tmp_path / "b", BOUND), _shard(tmp_path / "u", 0)
    batches = _batches(seed=9, customers=30, events=300)
    half = len(batches) // 2
    snapshot = None
    for batch in batches[:half]:
        assert _feed(bounded, batch) == _feed(unbounded, batch)
        snapshot = bounded.snapshot()
        unbounded.snapshot()
    # A new process: memory rebuilt from the customer log (evicted customers included), evicted again.
    # Stock is Cassandra's, not the snapshot's: the new process sees the same.
    restored = _shard(tmp_path / "b", BOUND, resume=snapshot, inventory=bounded._ctx.inventory)  # type: ignore[arg-type]
    assert len(restored.customers) <= BOUND
    for batch in batches[half:]:
        assert _feed(restored, batch) == _feed(unbounded, batch)
        restored.snapshot()
        unbounded.snapshot()


def test_a_flood_of_new_customers_stays_within_the_bound(tmp_path: Path) -> None:
    shard = _shard(tmp_path, BOUND)
    for start in range(0, 600, 20):
        _feed(shard, [_event(f"e-{c}", c, "S1", 1) for c in range(start + 1, start + 21)])
        shard.snapshot()
        assert len(shard.customers) <= BOUND and len(shard.offered) <= BOUND
    assert shard.evictions >= 600 - BOUND
