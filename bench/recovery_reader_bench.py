"""What a flow's recovery-store reader costs: the child process each flow runs for its lag gauge
(``persona.flows.common.recovery.CommittedInputReader``): its start, a read, its resident memory.

    uv run python bench/recovery_reader_bench.py [READS]

A store of two partitions written by a real Bytewax flow (1,000 items, one epoch per 50 ms); the
flow's lag watcher reads once every 5 s, so a read's cost times 0.2/s is its CPU share.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import TestingSink, TestingSource, run_main

from persona.flows.common.recovery import CommittedInputReader, committed_input


def main(reads: int) -> None:
    store = Path(tempfile.mkdtemp(prefix="reader-bench-"))
    init_db_dir(store, 2)
    flow = Dataflow("bench")
    op.output("out", op.input("in", flow, TestingSource(range(1000))), TestingSink([]))
    run_main(flow, epoch_interval=timedelta(milliseconds=50), recovery_config=RecoveryConfig(str(store)))
    reader = CommittedInputReader(store, "bench.in")
    try:
        started = time.perf_counter()
        first = reader()
        start_ms = (time.perf_counter() - started) * 1000
        assert first == committed_input(store, "bench.in")
        started = time.perf_counter()
        for _ in range(reads):
            reader()
        read_ms = (time.perf_counter() - started) * 1000 / reads
        status = Path(f"/proc/{reader.pid}/status").read_text().splitlines()
        rss_kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
    finally:
        reader.close()
    print(
        f"child start + first read {start_ms:.0f} ms; a read {read_ms:.2f} ms ({reads} reads); "
        f"child RSS {rss_kib / 1024:.1f} MiB"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
