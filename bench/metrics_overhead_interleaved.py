"""The metrics overhead of enrich on a shared machine: one process, two sets of shards over the same
seeded batches, one with the metrics on and one off, alternating batch by batch (which goes first
alternates too), each batch timed in CPU seconds. Interleaving at batch granularity puts both sides
under the same neighbours, which child processes minutes apart (``metrics_overhead_bench.py``) are not.

    uv run python bench/metrics_overhead_interleaved.py CUSTOMERS EVENTS [ROUNDS]

Each round builds fresh shards over the same seeded input; the last line is the median of the rounds'
off/on ratios (``persona bench --metrics-overhead`` runs this).
"""

import dataclasses
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from enrich_core_bench import seeded_input
from prometheus_client import CollectorRegistry, generate_latest

from persona.flows.common.metrics import FlowMetrics
from persona.flows.common.observability import meter_provider
from persona.flows.common.process import prepare_flow_process
from persona.flows.enrich import CustomerShard, route
from persona.flows.enrich.instrumentation import EnrichMetrics

customers, events = int(sys.argv[1]), int(sys.argv[2])
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 1
prepare_flow_process()


def one_round() -> float:
    """CPU seconds of each side over every batch, alternating; the off/on ratio."""
    settings, ctx_on, batches = seeded_input(customers, events, customers // 10)
    ctx_off = dataclasses.replace(ctx_on)
    registry = CollectorRegistry(auto_describe=False)
    m_on = FlowMetrics("enrich", meter_provider(registry).get_meter("x"))
    m_off = FlowMetrics("enrich", None)
    ctx_on.instruments = EnrichMetrics(m_on)
    ctx_off.instruments = EnrichMetrics(m_off)
    sides = {"on": (ctx_on, m_on, {}), "off": (ctx_off, m_off, {})}
    cpu = {"on": 0.0, "off": 0.0}
    for i, batch in enumerate(batches):
        order = ("on", "off") if i % 2 == 0 else ("off", "on")
        for side in order:
            ctx, metrics, shards = sides[side]
            t = time.process_time()
            for key, items in route(settings, batch, metrics):
                shard = shards.get(key)
                if shard is None:
                    shard = shards[key] = CustomerShard(ctx, None)
                shard.on_batch([items])
            if side == "on" and i % 20 == 0:
                generate_latest(registry)
            cpu[side] += time.process_time() - t
    print(
        f"cpu on {cpu['on']:.2f}s off {cpu['off']:.2f}s ratio off/on {cpu['off'] / cpu['on']:.3f}", flush=True
    )
    return cpu["off"] / cpu["on"]


ratios = [one_round() for _ in range(rounds)]
median = statistics.median(ratios)
print(
    f"median off/on {median:.3f} over {rounds} rounds: the metrics cost {100 * (1 / median - 1):.1f}% more CPU"
)
