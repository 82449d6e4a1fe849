"""What polling idle Kafka partitions costs a flow: a Bytewax dataflow reading one ``RawKafkaSource``
over a fresh, empty topic on the local stack's Kafka, with the poll interval fixed at
``POLL_INTERVAL`` (as before) and with the idle back-off (``next_poll_delay``), alternated.

    uv run persona stack up
    uv run python bench/idle_poll_bench.py [PARTITIONS] [SECONDS] [ROUNDS]

Each measurement runs the dataflow in a child process and reads the child's CPU time (every thread,
librdkafka's included) over ``SECONDS`` once its partitions are polled. The enrich flow reads
~18 partitions (behavior_events, order_facts, inventory_changes), the default here.
"""

from __future__ import annotations

import logging
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from persona.kafka.admin import KafkaAdmin
from persona.settings.pipeline import PipelineSettings

log = logging.getLogger("idle_poll_bench")
MODES = ("fixed", "backoff")
READY_MARK = "polling"


def child(mode: str, brokers: str, topic: str) -> None:
    """Run the dataflow until killed; ``fixed`` sets the idle interval to the short one."""
    from datetime import timedelta

    import bytewax.operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.testing import TestingSink, run_main

    import persona.kafka.bytewax_io as io

    if mode == "fixed":
        io.IDLE_POLL_INTERVAL = io.POLL_INTERVAL
    flow = Dataflow("idle_poll_bench")
    source = io.RawKafkaSource(brokers, [topic], group_id=f"idle-poll-bench-{mode}")
    op.output("out", op.input("in", flow, source), TestingSink([]))
    print(READY_MARK, flush=True)
    run_main(flow, epoch_interval=timedelta(seconds=10))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(mode: str, brokers: str, topic: str, seconds: float) -> float:
    """The child's CPU share of one core over ``seconds``, after a settling second."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", mode, brokers, topic], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != READY_MARK:
            raise RuntimeError(f"the {mode} child did not start (exit {proc.poll()})")
        time.sleep(3.0)  # its partitions built and polled: the steady idle state is what is measured
        before, started = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        return (cpu_seconds(proc.pid) - before) / (time.monotonic() - started)
    finally:
        proc.kill()
        proc.wait()


def main(partitions: int, seconds: float, rounds: int) -> None:
    settings = PipelineSettings.from_env()
    admin = KafkaAdmin(settings.kafka_bootstrap)
    topic = f"idle_poll_bench_{uuid.uuid4().hex[:8]}"
    admin.create_topic(topic, partitions)
    shares: dict[str, list[float]] = {m: [] for m in MODES}
    try:
        for r in range(rounds):
            for mode in MODES if r % 2 == 0 else reversed(MODES):
                share = measure(mode, settings.kafka_bootstrap, topic, seconds)
                shares[mode].append(share)
                log.info("round %d %s: %.1f%% of a core", r + 1, mode, share * 100)
    finally:
        admin.delete_topics([topic], missing_ok=True)
    fixed, backoff = (statistics.median(shares[m]) for m in MODES)
    print(f"{partitions} idle partitions, {rounds} rounds of {seconds:.0f}s each, median CPU of one core:")
    print(f"  fixed 5 ms polls: {fixed * 100:.1f}%   back-off to 50 ms: {backoff * 100:.1f}%")
    print(f"  back-off / fixed = {backoff / fixed:.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
    else:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        args = sys.argv[1:]
        main(
            int(args[0]) if args else 18,
            float(args[1]) if len(args) > 1 else 20.0,
            int(args[2]) if len(args) > 2 else 4,
        )
