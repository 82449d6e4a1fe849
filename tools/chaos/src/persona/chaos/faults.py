"""Injecting a row's fault into the running pipeline. Each injector returns a note on how it went
(the table prints it): whether a targeted moment was hit, how long a service was down.

Targeted moments are found by watching the files a flow writes, never by a hook in the flows:

* *mid-snapshot* (``epoch``): the flow's Bytewax recovery store (its sqlite files) changes at every
  epoch's end; the flow is killed as soon as a change is seen, while the snapshot is being written
  or just after it.
* *mid-merge*: the enrich flow merges each shard's customer-log files in a child process
  (``customer_log.Compactor``); the child is seen in the flow's ``/proc/<pid>/task/*/children``.
  The row lowers the merge threshold for its enrich flow (``persona.chaos.merge_hook``), so a small
  row merges every few epochs. First the merge child alone is killed (the flow must go on, the
  merge counted failed, its files left as they were); then, at the next merge, the whole flow.
* *between the sink's two table commits*: the sink commits ``marketing_segments`` and then
  ``segment_decisions`` at the end of every epoch. As soon as the first table has a new snapshot
  file the sink is stopped (SIGSTOP); if the second has none yet it is killed there, else it is
  continued and the next epoch is tried.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from persona.chaos.flows import SupervisedFlows
from persona.chaos.merge_hook import HOOK_DIR
from persona.chaos.merge_hook import VARIABLE as HOOK_VARIABLE
from persona.chaos.rows import Row
from persona.chaos.scenario import ChaosScenario
from persona.localstack import StackError, StackSettings, running_pid, up
from persona.localstack.procs import port_is_free, process_cmdline
from persona.localstack.stack import service_port

log = logging.getLogger(__name__)

TARGET_TIMEOUT_S = 30.0
WATCH_INTERVAL_S = 0.002  # how often a targeted kill looks at the files it watches
MERGE_WATCH_INTERVAL_S = 0.01  # how often the mid-merge kill looks for a merge child
# What enrich logs when a merge child failed (persona.flows.enrich.customer_log.Compactor.finished).
MERGE_FAILED_MARKER = "customer_log_merge_failed"
DETECT_TIMEOUT_S = 90.0  # for the restarted enrich to stop on a corrupt customer log
# What the enrich flow's log says when a customer-log chunk is damaged (chunk_file.CustomerLogError).
CORRUPTION_MARKER = "CustomerLogError"


@dataclass
class FaultContext:
    stack: StackSettings
    scenario: ChaosScenario
    flows: SupervisedFlows
    # What went wrong with the fault itself (a row whose fault did not do what it says fails).
    failures: list[str]

    def hold(self, seconds: float) -> None:
        """Let ``seconds`` pass; the flows' supervisors run meanwhile, in their own threads."""
        time.sleep(seconds)


def inject(row: Row, ctx: FaultContext) -> str:
    match row.kind:
        case "none" | "poison":
            return ""
        case "kill_flow":
            assert row.flow is not None
            if row.moment == "epoch":
                return _kill_at_epoch(ctx, row.flow)
            if row.moment == "mid_merge":
                return _kill_mid_merge(ctx)
            if row.moment == "between_commits":
                return _kill_between_commits(ctx)
            ctx.flows.kill(row.flow)
            return ""
        case "kill_kafka" | "kafka_down":
            return _kill_service(ctx, "kafka", row.down_s)
        case "kill_cassandra":
            return _kill_service(ctx, "cassandra", row.down_s)
        case "disk_full":
            return _disk_full(ctx, row.down_s)
        case "commit_fails":
            return _commit_fails(ctx, row.down_s)
        case "corrupt_state":
            return _corrupt_customer_log(ctx)
    raise ValueError(f"no injector for {row.kind}")


def _signature(files: list[Path]) -> tuple[tuple[int, int], ...]:
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append((st.st_size, st.st_mtime_ns))
        except FileNotFoundError:
            out.append((-1, -1))
    return tuple(out)


def _kill_at_epoch(ctx: FaultContext, flow: str) -> str:
    recovery = ctx.flows.recovery_dir(flow)
    files = sorted(recovery.glob("part-*.sqlite3*"))
    before = _signature(files)
    deadline = time.monotonic() + TARGET_TIMEOUT_S
    while time.monotonic() < deadline:
        if _signature(sorted(recovery.glob("part-*.sqlite3*"))) != before:
            ctx.flows.kill(flow)
            return "killed as its recovery store changed"
        time.sleep(WATCH_INTERVAL_S)
    ctx.flows.kill(flow)
    return f"recovery store unchanged for {TARGET_TIMEOUT_S:.0f}s: killed at a random moment instead"


MERGE_MIN_BYTES = 16 << 10
"""The enrich customer log's merge threshold in the mid-merge row (a shard's epoch adds ~4 KB)."""


def merge_hook_env() -> dict[str, str]:
    """The enrich flow's environment in the mid-merge row: its merge threshold lowered."""
    path = os.pathsep.join(p for p in (str(HOOK_DIR), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, HOOK_VARIABLE: str(MERGE_MIN_BYTES)}


def _merge_children(pid: int) -> list[int]:
    """The customer-log merges the flow process ``pid`` is running (its child processes)."""
    children: list[int] = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            children += [int(c) for c in listing.read_text().split()]
    return [c for c in children if any(a.endswith("customer_log.py") for a in process_cmdline(c) or [])]


def _await_merge(ctx: FaultContext, exclude: int | None = None) -> tuple[int, int] | None:
    """(enrich's pid, a merge child's pid other than ``exclude``) as soon as enrich runs a merge;
    None: none seen in time. A killed child stays listed until enrich reaps it: ``exclude`` it."""
    deadline = time.monotonic() + TARGET_TIMEOUT_S
    while time.monotonic() < deadline:
        pid = ctx.flows.pid("enrich")
        merges = [m for m in _merge_children(pid) if m != exclude] if pid is not None else []
        if pid is not None and merges:
            return pid, merges[0]
        time.sleep(MERGE_WATCH_INTERVAL_S)
    return None


def _await_log(ctx: FaultContext, flow: str, marker: str, timeout: float, lines: int) -> bool:
    """Whether ``marker`` shows in the last ``lines`` lines of ``flow``'s log within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while marker not in ctx.flows.log_tail(flow, lines):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)  # poll interval of the wait for the flow's log line
    return True


def _kill_mid_merge(ctx: FaultContext) -> str:
    first = _await_merge(ctx)
    if first is None:
        ctx.failures.append(f"kill-enrich-mid-merge: no merge seen within {TARGET_TIMEOUT_S:.0f}s")
        ctx.flows.kill("enrich")
        return "no merge seen: enrich killed at a random moment instead"
    flow_pid, child = first
    with contextlib.suppress(ProcessLookupError):
        os.kill(child, signal.SIGKILL)
    notes = [f"merge child {child} killed alone"]
    # The killed merge is logged as failed at its shard's next seal (``ShardLog._adopt_compaction``);
    # another shard's merge may start before that, so the log is awaited first, then the next merge.
    if not _await_log(ctx, "enrich", MERGE_FAILED_MARKER, TARGET_TIMEOUT_S, lines=200):
        ctx.failures.append(
            f"kill-enrich-mid-merge: enrich logged no {MERGE_FAILED_MARKER} within {TARGET_TIMEOUT_S:.0f}s "
            "of its merge child's kill"
        )
        notes.append("the killed merge was not logged as failed (a failure)")
    second = _await_merge(ctx, exclude=child)
    if second is None:
        ctx.failures.append(f"kill-enrich-mid-merge: no second merge seen within {TARGET_TIMEOUT_S:.0f}s")
        ctx.flows.kill("enrich")
        return "; ".join([*notes, "no second merge seen: enrich killed at a random moment instead"])
    # Enrich went on: the same process started the next merge.
    if second[0] != flow_pid:
        ctx.failures.append("kill-enrich-mid-merge: enrich did not go on after its merge child was killed")
        notes.append("enrich did not go on (a failure)")
    else:
        notes.append("enrich went on (merge counted failed)")
    ctx.flows.kill("enrich")
    notes.append(f"enrich killed while merge {second[1]} ran")
    return "; ".join(notes)


def _snapshots(warehouse: Path, table: str) -> int:
    try:
        return sum(
            1 for n in os.listdir(warehouse / "persona.db" / table / "snapshot") if n.startswith("snapshot-")
        )
    except FileNotFoundError:
        return 0


def _kill_between_commits(ctx: FaultContext) -> str:
    wh = ctx.scenario.warehouse_dir
    deadline = time.monotonic() + TARGET_TIMEOUT_S
    tries = 0
    while time.monotonic() < deadline:
        seg, aud = _snapshots(wh, "marketing_segments"), _snapshots(wh, "segment_decisions")
        while _snapshots(wh, "marketing_segments") == seg and time.monotonic() < deadline:
            time.sleep(WATCH_INTERVAL_S)
        ctx.flows.signal("sink", signal.SIGSTOP)
        tries += 1
        if _snapshots(wh, "segment_decisions") == aud:
            ctx.flows.kill("sink")
            return f"killed between the two commits (attempt {tries})"
        ctx.flows.signal("sink", signal.SIGCONT)
    ctx.flows.kill("sink")
    return f"the window between the commits was missed {tries} times: killed at a random moment instead"


def _kill_service(ctx: FaultContext, service: str, down_s: float) -> str:
    pid = running_pid(ctx.stack, service)
    if pid is None:
        raise RuntimeError(f"{service} is not running")
    os.kill(pid, signal.SIGKILL)
    ports = [service_port(ctx.stack, service)]
    # Until the kernel has reaped it and its listening sockets are gone (a dying JVM holds them a
    # moment after it stops being listed), or the restart would find its ports taken.
    while running_pid(ctx.stack, service) is not None or not all(port_is_free(p) for p in ports):
        time.sleep(0.05)
    ctx.hold(down_s)
    started = time.monotonic()
    for attempt in range(5):
        try:
            up(ctx.stack, run_init=False)
            break
        except StackError as error:
            log.warning("starting %s again (attempt %d): %s", service, attempt + 1, error)
            ctx.hold(2.0)
    return f"{service} down {down_s:.0f}s, healthy again {time.monotonic() - started:.0f}s after its start"


def _disk_full(ctx: FaultContext, seconds: float) -> str:
    """Fill the warehouse's tmpfs with a ballast file, hold, then free it."""
    ballast = ctx.scenario.warehouse_dir / "ballast"
    written = 0
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        # Unbuffered writes, smaller and smaller, until not one byte more fits.
        for size in (1 << 20, 1 << 12, 1):
            block = b"\0" * size
            with contextlib.suppress(OSError):
                while True:
                    written += os.write(fd, block)
    finally:
        os.close(fd)
    ctx.hold(seconds)
    ballast.unlink()
    return f"warehouse full ({written >> 20} MiB of ballast) for {seconds:.0f}s"


def _commit_fails(ctx: FaultContext, seconds: float) -> str:
    """Block the next ``segment_decisions`` snapshot file with a directory of that name: the sink's
    commit writes its data files and manifests, then cannot write the snapshot."""
    snap_dir = ctx.scenario.warehouse_dir / "persona.db" / "segment_decisions" / "snapshot"
    blockers = [
        snap_dir / f"snapshot-{_snapshots(ctx.scenario.warehouse_dir, 'segment_decisions') + i}"
        for i in (1, 2, 3)
    ]
    for b in blockers:
        b.mkdir(parents=True, exist_ok=True)
        (b / "blocker").write_bytes(b"")
    ctx.hold(seconds)
    for b in blockers:
        (b / "blocker").unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            b.rmdir()
    return f"the next segment_decisions snapshots blocked for {seconds:.0f}s"


def _corrupt_customer_log(ctx: FaultContext) -> str:
    """Kill enrich, flip bytes in the middle of a shard's oldest customer-log file; once its supervisor's
    restart has stopped on the damage, run the recovery the docs give (docs/reliability.md): stop
    its supervision, remove its recovery directory (customer log included), supervise it again."""
    ctx.flows.kill("enrich")
    # Each shard's oldest file: every snapshot names it (the row never merges), so the restart must
    # read it. The newest may be the killed process's open segment, which no snapshot names: the
    # restart rightly deletes it unread, and there would be no damage to find.
    oldest = [
        min(files, key=lambda p: p.name)
        for shard in ctx.flows.customer_log_dir().glob("shard-*")
        # Two files at least: a shard's only file may be its open segment.
        if len(files := [f for f in shard.iterdir() if f.suffix in (".seg", ".base")]) >= 2
    ]
    chunks = sorted((f for f in oldest if f.stat().st_size > 256), key=lambda p: p.stat().st_size)
    if not chunks:
        ctx.failures.append("corrupt-customer-log: no customer-log chunk to corrupt")
        return "no customer-log chunk to corrupt"
    chunk = chunks[-1]
    data = bytearray(chunk.read_bytes())
    for i in range(len(data) // 2, min(len(data), len(data) // 2 + 64)):
        data[i] ^= 0xFF
    chunk.write_bytes(bytes(data))
    note = f"corrupted {chunk.name} ({len(data)} bytes)"
    # The supervisor's restarts fail on the damage, each logging it.
    if not _await_log(ctx, "enrich", CORRUPTION_MARKER, DETECT_TIMEOUT_S, lines=60):
        ctx.failures.append(f"enrich did not stop on the corrupt customer log within {DETECT_TIMEOUT_S:.0f}s")
        return note
    stopped_on = next(
        line for line in reversed(ctx.flows.log_tail("enrich", 60).splitlines()) if CORRUPTION_MARKER in line
    )
    ctx.flows.restart_fresh("enrich")
    return (
        f"{note}; enrich stopped on it: {stopped_on.strip()[:240]}; recovery: its recovery directory removed"
    )
