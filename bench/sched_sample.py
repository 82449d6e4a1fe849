"""Is a flow running, waiting for a core, or asleep? Per-thread scheduler statistics of one flow.

    uv run python bench/sched_sample.py --flow enrich [--after 130] [--seconds 20]

Run it beside ``persona bench`` (or the demo): it finds the flow's process (``persona.flows.<flow>``
under ``bytewax.run``), waits ``--after`` seconds, then for ``--seconds``:

* every thread's share of wall time running and waiting in the run queue (runnable, no core free),
  from ``/proc/<pid>/task/<tid>/schedstat``, with the machine's idle share (``/proc/stat``);
* the main thread's state sampled every 2 ms: running or runnable (``R``), or asleep and in which
  system call and kernel wait (``/proc/<tid>/syscall``, ``wchan``; 202 is ``futex``, 74 ``fsync``).

Linux only; reading another process's ``syscall`` needs the same user or root.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import time
from pathlib import Path

from persona.benchkit.procstat import MachineSampler
from persona.localstack.procs import find_processes
from persona.localstack.runner import FLOWS


def find_flow(flow: str, timeout: float = 300.0) -> int:
    markers = ["bytewax.run", FLOWS[flow].factory]  # the runner's own command line (flow_command)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find_processes(markers)
        if found:
            return found[0]
        time.sleep(1.0)  # the flow is not started yet
    raise SystemExit(f"no {FLOWS[flow].factory} process within {timeout:.0f}s")


def thread_times(pid: int) -> dict[int, tuple[str, int, int]]:
    """tid -> (name, ns running, ns waiting in the run queue)."""
    out: dict[int, tuple[str, int, int]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            run, wait, _slices = (int(v) for v in (task / "schedstat").read_text().split())
        except (OSError, ValueError):
            continue
        out[int(task.name)] = (name, run, wait)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flow", default="enrich", choices=list(FLOWS))
    parser.add_argument("--after", type=float, default=130.0, help="seconds to wait once the flow runs")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    pid = find_flow(args.flow)
    time.sleep(args.after)
    machine = MachineSampler()
    machine.sample()  # the baseline of the machine's busy share
    before, started = thread_times(pid), time.monotonic()
    states: collections.Counter[tuple[str, str, str]] = collections.Counter()
    task = Path(f"/proc/{pid}/task/{pid}")
    while time.monotonic() - started < args.seconds:
        try:
            stat = (task / "stat").read_text()
            state = stat[stat.rindex(")") + 2]
            if state == "R":
                states[("R", "-", "-")] += 1
            else:
                call = (task / "syscall").read_text().split()[0]
                states[(state, call, (task / "wchan").read_text())] += 1
        except OSError:
            sys.exit("the flow ended")
        time.sleep(0.002)  # the sampling interval
    elapsed = time.monotonic() - started
    after, busy = thread_times(pid), machine.sample()  # busy: cores x 100
    idle = "?" if busy is None else f"{1 - busy / (100 * machine.cores):.0%}"
    print(f"persona.flows.{args.flow} pid {pid}, {elapsed:.0f}s; machine idle {idle}")
    rows = []
    for tid, (name, run, wait) in after.items():
        if tid in before:
            ran, waited = (run - before[tid][1]) / 1e9 / elapsed, (wait - before[tid][2]) / 1e9 / elapsed
            if ran > 0.01 or waited > 0.01:
                label = re.sub(r"\d+$", "", name) + (" (main)" if tid == pid else "")
                rows.append((ran, waited, label))
    for ran, waited, label in sorted(rows, reverse=True):
        print(f"  {label:<24} running {ran:6.1%}  waiting for a core {waited:6.1%}")
    total = sum(states.values())
    print(f"main thread, {total} samples (state, system call, kernel wait):")
    for (state, call, wchan), count in states.most_common(8):
        print(f"  {count / total:6.1%}  {state} {call} {wchan}")


if __name__ == "__main__":
    main()
