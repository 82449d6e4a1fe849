"""The enrich shards' customer log on a real directory: snapshots that only name files, restores that
rebuild the same customers, background merges, and the files that stay (customer_log.py)."""

from __future__ import annotations

import dataclasses
import logging
import pickle
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import msgspec
import orjson
import pytest

from persona.contracts import BehaviorEvent, InventoryRow, Ok, parse_behavior_event
from persona.flows.enrich import CustomerShard, ShardSnapshot
from persona.flows.enrich import customer_log as cl
from persona.flows.enrich.flow import EnrichContext
from persona.flows.enrich.reporting import StatsLog
from persona.settings import PipelineSettings

SHARDS = 4


class Stock:
    """Every SKU in stock, read from memory."""

    def sellable(self, sku_ids: Iterable[str]) -> dict[str, int | None]:
        return dict.fromkeys(sku_ids, 5)

    def prefetch(self, sku_ids: Iterable[str]) -> set[str]:
        return set()

    def record_change(self, row: InventoryRow) -> None:
        pass


class NoProfiles:
    def get(self, customer_id: int) -> None:
        return None

    def maybe_refresh(self) -> bool:
        return False


def _event(n: int, customer: int, sku: str) -> BehaviorEvent:
    parsed = parse_behavior_event(
        orjson.dumps(
            {
                "event_id": f"e-{n}",
                "user_id": customer,
                "event_type": "view",
                "sku_id": sku,
                "event_time": f"2026-11-20T10:{n // 60 % 60:02d}:{n % 60:02d}Z",
            }
        )
    )
    assert isinstance(parsed, Ok)
    return parsed.value


def _ctx(directory: Path | None) -> EnrichContext:
    settings = PipelineSettings(enrich_shards=SHARDS, enrich_state_dir=str(directory) if directory else None)
    return EnrichContext(settings, NoProfiles(), Stock(), clock=lambda: 1_800_000_000.0)


def _feed(shard: CustomerShard, events: list[BehaviorEvent]) -> None:
    shard.on_batch([list(events)])


def _events(start: int, count: int, customers: Iterable[int]) -> list[BehaviorEvent]:
    ids = list(customers)
    return [_event(n, ids[n % len(ids)], f"S{n % 7}") for n in range(start, start + count)]


def _files_on_disk(directory: Path) -> set[str]:
    return {p.name for p in directory.rglob("*") if p.is_file()}


def _wait(what: str, check: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_a_restored_shard_has_the_same_customers_offers_and_versions(tmp_path: Path) -> None:
    shard = CustomerShard(_ctx(tmp_path), None)
    customers = range(1, 4001, SHARDS)  # one shard's customers: 1, 5, 9, ...
    _feed(shard, _events(0, 3000, customers))
    _feed(shard, _events(3000, 3000, customers))  # a chunk written before the snapshot, the rest at it
    snapshot = pickle.loads(pickle.dumps(shard.snapshot()))  # as Bytewax recovery stores it
    assert snapshot.log is not None and snapshot.log.shard == "1"
    assert len(snapshot.state) < 100, "the snapshot holds no customer"
    restored = CustomerShard(_ctx(tmp_path), snapshot)
    assert restored.customers == shard.customers and len(shard.customers) == 1000
    assert restored.offered == shard.offered
    assert restored.offered_to == shard.offered_to
    # Versions go on from where they were; a duplicate of an event before the snapshot is still one.
    out, _ = restored.on_batch([[_event(6000, 1, "S1"), _event(5999, customers[5999 % 1000], "S0")]])
    assert restored.customers[1].version == shard.customers[1].version + 1
    assert len([r for r in out[0] if r[0] == "marketing_segments_rt"]) == 1


def test_an_older_snapshot_still_restores_the_state_it_was_taken_at(tmp_path: Path) -> None:
    shard = CustomerShard(_ctx(tmp_path), None)
    _feed(shard, _events(0, 500, range(2, 802, SHARDS)))
    first = pickle.loads(pickle.dumps(shard.snapshot()))
    then = dict(shard.customers)
    for epoch in range(1, cl.KEEP_CHAINS):  # Bytewax may resume from a snapshot behind the newest
        _feed(shard, _events(500 * epoch, 500, range(2, 802, SHARDS)))
        shard.snapshot()
    assert shard.customers != then
    assert CustomerShard(_ctx(tmp_path), first).customers == then


def test_merges_keep_each_customers_newest_record_and_old_files_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cl, "COMPACT_MIN_BYTES", 0)
    ctx = _ctx(tmp_path)
    shard = CustomerShard(ctx, None)
    snapshots: list[ShardSnapshot] = []
    for epoch in range(12):
        # Half of the customers change every epoch, so the segments outgrow the base.
        _feed(shard, _events(400 * epoch, 400, range(3 + 4 * (epoch % 2), 3203, 8)))
        snapshots.append(shard.snapshot())
        _wait("the background merge", lambda: ctx.compactor.idle)
    _wait("a merge", lambda: ctx.compactor.stats.compactions >= 2)
    snapshot = shard.snapshot()
    assert snapshot.log is not None
    assert snapshot.log.files[0].endswith(".base"), snapshot.log.files
    assert len(snapshot.log.files) < 12
    assert ctx.compactor.stats.compaction_errors == 0
    assert CustomerShard(_ctx(tmp_path), snapshot).customers == shard.customers
    # On disk: the files of the last KEEP_CHAINS snapshots (and a merge's output), nothing else.
    named = {name for s in [*snapshots, snapshot][-cl.KEEP_CHAINS :] for name in s.log.files}  # type: ignore[union-attr]
    on_disk = {n for n in _files_on_disk(tmp_path) if not n.endswith(".tmp")}
    assert named <= on_disk
    assert len(on_disk - named) <= 1, on_disk - named  # a merge still running writes its base
    _wait("the last merge", lambda: ctx.compactor.idle)


def test_compact_keeps_the_newest_record_of_each_customer(tmp_path: Path) -> None:
    enc = msgspec.msgpack.Encoder()
    old, new, out = tmp_path / "1.seg", tmp_path / "2.seg", tmp_path / "3.base"
    with cl.create_file(old) as f:
        cl.write_chunk(f, enc.encode(([1, 2], [("a1", ()), ("b1", ())])))
        cl.write_chunk(f, enc.encode(([1], [("a2", ("sku:X",))])))
    with cl.create_file(new) as f:
        cl.write_chunk(f, enc.encode(([3, 2], [("c1", ()), ("b2", ())])))
    size = cl.compact(out, [old, new])
    assert size == out.stat().st_size
    merged = [
        (c, s, tuple(o))
        for chunk in cl.read_chunks(out)
        for c, (s, o) in zip(*msgspec.msgpack.decode(chunk), strict=True)
    ]
    assert sorted(merged) == [(1, "a2", ("sku:X",)), (2, "b2", ()), (3, "c1", ())]


def test_a_starting_shard_removes_the_files_its_snapshot_does_not_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CustomerShard, "LOG_CHUNK", 1)  # every batch writes its changed customers
    shard = CustomerShard(_ctx(tmp_path), None)
    _feed(shard, _events(0, 100, range(1, 401, SHARDS)))
    snapshot = shard.snapshot()
    assert snapshot.log is not None
    _feed(shard, _events(100, 100, range(1, 401, SHARDS)))  # a segment a crash leaves open
    directory = tmp_path / "shard-1"
    stray = directory / "0000000099-deadbeef.base.tmp"
    stray.write_bytes(b"half a merge")
    before = _files_on_disk(tmp_path)
    assert len(before) == len(snapshot.log.files) + 2
    resumed = CustomerShard(_ctx(tmp_path), snapshot)
    _feed(resumed, _events(200, 10, range(1, 41, SHARDS)))
    after = _files_on_disk(tmp_path)
    assert set(snapshot.log.files) <= after and stray.name not in after
    assert len(after) == len(snapshot.log.files) + 1, "the strays went, the new segment came"


def test_missing_or_truncated_files_fail_the_restore_with_a_clear_error(tmp_path: Path) -> None:
    shard = CustomerShard(_ctx(tmp_path), None)
    _feed(shard, _events(0, 100, range(1, 401, SHARDS)))
    snapshot = shard.snapshot()
    assert snapshot.log is not None
    path = tmp_path / "shard-1" / snapshot.log.files[-1]
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(cl.CustomerLogError, match="truncated"):
        CustomerShard(_ctx(tmp_path), snapshot)
    path.unlink()
    with pytest.raises(cl.CustomerLogError, match="PERSONA_ENRICH_STATE_DIR"):
        CustomerShard(_ctx(tmp_path), snapshot)


def test_an_inline_snapshot_restored_with_a_log_directory_moves_its_customers_into_the_log(
    tmp_path: Path,
) -> None:
    inline = CustomerShard(_ctx(None), None)
    _feed(inline, _events(0, 300, range(2, 402, SHARDS)))
    old = inline.snapshot()
    assert old.log is None
    moved = CustomerShard(_ctx(tmp_path), old)
    snapshot = moved.snapshot()
    assert snapshot.log is not None
    assert CustomerShard(_ctx(tmp_path), snapshot).customers == inline.customers


def test_a_log_snapshot_without_a_log_directory_fails_with_a_clear_error(tmp_path: Path) -> None:
    shard = CustomerShard(_ctx(tmp_path), None)
    _feed(shard, _events(0, 10, [1]))
    with pytest.raises(RuntimeError, match="PERSONA_ENRICH_STATE_DIR is not set"):
        CustomerShard(_ctx(None), shard.snapshot())


def test_the_log_line_reports_appends_seals_and_merges(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="persona.flows.enrich")
    ctx = dataclasses.replace(_ctx(tmp_path), stats_log=StatsLog(every_seconds=0.0))
    shard = CustomerShard(ctx, None)
    ctx.maybe_report()
    _feed(shard, _events(0, 3000, range(1, 12001, SHARDS)))
    shard.snapshot()
    ctx.maybe_report()
    lines = [r.getMessage() for r in caplog.records]
    log_lines = [line for line in lines if line.startswith("stats=customer_log")]
    assert len(log_lines) == 1 and " seals=1 " in log_lines[0], lines


def test_a_failed_merge_is_reported_and_leaves_the_files_as_they_were(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(cl, "COMPACT_MIN_BYTES", 0)
    caplog.set_level(logging.WARNING, logger="persona.flows.enrich")
    ctx = _ctx(tmp_path)
    shard = CustomerShard(ctx, None)
    _feed(shard, _events(0, 100, range(1, 401, SHARDS)))
    first = shard.snapshot()
    assert first.log is not None
    damaged = tmp_path / "shard-1" / first.log.files[0]
    damaged.write_bytes(damaged.read_bytes()[:-1])
    for epoch in range(1, 4):
        _feed(shard, _events(100 * epoch, 100, range(1, 401, SHARDS)))
        shard.snapshot()
        _wait("the merge", lambda: ctx.compactor.idle)
    snapshot = shard.snapshot()
    assert snapshot.log is not None and snapshot.log.files[0] == first.log.files[0]
    assert ctx.compactor.stats.compaction_errors >= 1 and ctx.compactor.stats.compactions == 0
    lines = [r.getMessage() for r in caplog.records]
    assert any("customer_log_merge_failed" in line and "exit_code=1" in line for line in lines), lines
    assert "truncated" in capfd.readouterr().err, "the merge's own error is in the flow's log"
    assert not list((tmp_path / "shard-1").glob("*.tmp")), "its half-written base is gone"
