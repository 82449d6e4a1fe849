"""`persona bench`'s core plan on real processes: every thread of a pinned process (and one it starts
later) is allowed only the plan's CPUs, and restoring gives each process its old CPUs back."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from persona.benchkit.core_plan import PinnedProcesses, thread_ids

# A child with three waiting threads; each line on stdin starts one more, and it answers "ok".
CHILD = """
import sys, threading
stop = threading.Event()
for _ in range(3):
    threading.Thread(target=stop.wait, daemon=True).start()
print("ok", flush=True)
for line in sys.stdin:
    threading.Thread(target=stop.wait, daemon=True).start()
    print("ok", flush=True)
"""


def _allowed(tid: int) -> frozenset[int]:
    for line in Path(f"/proc/{tid}/status").read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            cpus: set[int] = set()
            for part in line.split(":", 1)[1].strip().split(","):
                lo, _, hi = part.partition("-")
                cpus.update(range(int(lo), int(hi or lo) + 1))
            return frozenset(cpus)
    raise AssertionError(f"no Cpus_allowed_list for {tid}")


@pytest.fixture
def child() -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ok"
    with proc:
        try:
            yield proc
        finally:
            proc.kill()


def test_every_thread_is_pinned_new_threads_inherit_and_restore_gives_the_cpus_back(
    child: subprocess.Popen[str],
) -> None:
    assert child.stdin is not None and child.stdout is not None
    everything = frozenset(os.sched_getaffinity(child.pid))
    target = frozenset({max(everything)})
    tids = thread_ids(child.pid)
    assert len(tids) >= 4

    pinned, threads = PinnedProcesses.pin([child.pid], target)
    assert threads == len(tids)
    assert {tid: _allowed(tid) for tid in thread_ids(child.pid)} == dict.fromkeys(tids, target)

    child.stdin.write("more\n")
    child.stdin.flush()
    assert child.stdout.readline().strip() == "ok"
    after = thread_ids(child.pid)
    assert len(after) == len(tids) + 1
    assert all(_allowed(tid) == target for tid in after)

    pinned.restore()
    assert all(_allowed(tid) == everything for tid in thread_ids(child.pid))


def test_a_process_that_is_gone_is_skipped() -> None:
    with subprocess.Popen([sys.executable, "-c", "pass"]) as done:
        done.wait(30)  # reaped: its pid and /proc entry are gone
    pinned, threads = PinnedProcesses.pin([done.pid, os.getpid()], os.sched_getaffinity(0))
    assert threads >= 1
    assert list(pinned.before) == [os.getpid()]
