"""Order changes through the real CDC path, at a fixed rate: throughput and latency by stage.

    uv run python bench/cdc_bench.py --rate 500  --seconds 30
    uv run python bench/cdc_bench.py --rate 5000 --seconds 30

A writer commits PAID orders into the stack's MariaDB at ``--rate`` orders/s (a transaction every
10 ms), each order of a fresh customer that has no profile (so its decision is DORMANT before the order
counts and ACTIVE after). Debezium (a private connector, no snapshot) carries them to a private
``orders_cdc``; the cdc and enrich flows run as processes on private topics. Measured per order, from
the moment its COMMIT returned:

- ``orders_cdc``: the broker's append time of Debezium's record (binlog -> Connect -> Kafka);
- ``order_facts``: the append time of the cdc flow's fact (the flow's poll, parse, produce);
- ``decision``: for a sample of orders (``--sample-rate`` per second), the append time on
  ``marketing_segments_rt`` of the customer's first decision that counts the order (ACTIVE). A
  decision needs an event: the bench sends the sampled customer a page_view every 100 ms from the
  commit on, so this stage has a 100 ms resolution.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import orjson
from confluent_kafka import Consumer, Message

from persona.contracts import Ok, parse_decision_message
from persona.crm import CrmOrder, MariaDbCrm, OrderChange
from persona.kafka import KafkaAdmin, make_producer, produce, topic_configs
from persona.localstack import StackSettings, create_topic, up
from persona.localstack.connect import CdcConnector, delete_connector, ensure_running_connector
from persona.localstack.crm_schema import crm_endpoint
from persona.localstack.private_world import PrivateWorld
from persona.localstack.runner import FlowProcess
from persona.paimon import ensure_tables

TICK_S = 0.01  # one MariaDB transaction per tick
EVENT_EVERY_S = 0.1  # the sampled customers' page_view period
EVENT_FOR_S = 20.0  # a sampled customer gets events for at most this long


@dataclass(frozen=True)
class CdcBenchWorld(PrivateWorld):
    kind = "cdcbench"


@dataclass
class Timeline:
    committed: dict[int, float] = field(default_factory=dict)  # customer -> commit returned (epoch s)
    on_cdc: dict[int, float] = field(default_factory=dict)
    on_facts: dict[int, float] = field(default_factory=dict)
    decided: dict[int, float] = field(default_factory=dict)
    sampled: dict[int, float] = field(default_factory=dict)  # customer -> sampled at (pending decision)
    lock: threading.Lock = field(default_factory=threading.Lock)


def write_orders(
    world: CdcBenchWorld, rate: float, seconds: float, base: int, line: Timeline, sample_rate: float
) -> int:
    """Commit ``rate`` orders/s for ``seconds``, one transaction per tick; sample ``sample_rate``/s."""
    written = sampled = 0
    started = time.monotonic()
    with MariaDbCrm(crm_endpoint(world.stack)) as crm:
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(rate * (elapsed + TICK_S)) - written
            if due > 0:
                now_ms = int(time.time() * 1000)
                ids = range(base + written, base + written + due)
                crm.apply(
                    [
                        OrderChange(
                            "upsert", i, CrmOrder(i, i, "PAID", Decimal("25.00"), "USD", now_ms, now_ms)
                        )
                        for i in ids
                    ]
                )
                done = time.time()
                samples = min(len(ids), max(0, int(sample_rate * (elapsed + TICK_S)) - sampled))
                with line.lock:
                    for i in ids:
                        line.committed[i] = done
                    for i in ids[:: max(1, len(ids) // samples)][:samples] if samples else ():
                        line.sampled[i] = done
                sampled += samples
                written += due
            pause = started + written / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # pacing to the offered rate
    return written


def consume(bootstrap: str, topic: str, stop: threading.Event, on_record: Callable[[Message], None]) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"cdcbench-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    try:
        while not stop.is_set():
            for message in consumer.consume(1000, 0.2):
                if message.error() is None:
                    on_record(message)
    finally:
        consumer.close()


def send_events(world: CdcBenchWorld, line: Timeline, stop: threading.Event) -> int:
    producer = make_producer(world.stack.kafka_bootstrap)
    sent = 0
    while not stop.is_set():
        now = time.time()
        with line.lock:
            pending = [c for c, t in line.sampled.items() if c not in line.decided and now - t < EVENT_FOR_S]
        for customer in pending:
            sent += 1
            event = {
                "event_id": f"cdcbench-{customer}-{sent}",
                "user_id": customer,
                "event_type": "page_view",
                "sku_id": None,
                "event_time": int(now * 1000),
            }
            produce(producer, world.topics.behavior_events, orjson.dumps(event), str(customer).encode())
        producer.poll(0)
        stop.wait(EVENT_EVERY_S)
    producer.flush(10)
    return sent


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=500.0, help="orders committed per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--sample-rate", type=float, default=20.0, help="orders per second whose decision is timed"
    )
    parser.add_argument("--settle", type=float, default=60.0, help="seconds to wait for the tail to arrive")
    args = parser.parse_args()
    stack = StackSettings.from_env(os.environ)
    up(stack)
    world = CdcBenchWorld(stack, uuid.uuid4().hex[:8])
    topics = world.topics
    admin = KafkaAdmin(stack.kafka_bootstrap)
    for name, config in topic_configs(topics).items():
        if name in (topics.orders_cdc, topics.order_facts, topics.marketing_segments_rt):
            config = {"message.timestamp.type": "LogAppendTime"}  # the stage times are the broker's
        create_topic(stack, name, 4, config, admin=admin)
    world.create_inventory_table()
    ensure_tables(world.warehouse_dir)
    connector = CdcConnector(
        f"cdcbench-{world.tag}",
        topics.orders_cdc,
        10_000 + random.randrange(1_000_000),
        f"cdcbench_{world.tag}",
        snapshot_mode="no_data",
    )
    ensure_running_connector(stack, connector)
    env = world.base_flow_env(1.0)
    flows = [FlowProcess(name, world.state_dir, env, snapshot_seconds=1) for name in ("cdc", "enrich")]
    for flow in flows:
        flow.start()
    line = Timeline()
    stop = threading.Event()

    def cdc_record(message: Message) -> None:
        value = orjson.loads(message.value())
        with line.lock:
            line.on_cdc.setdefault(value["after"]["customer_id"], message.timestamp()[1] / 1000)

    def fact_record(message: Message) -> None:
        with line.lock:
            line.on_facts.setdefault(int(message.key()), message.timestamp()[1] / 1000)

    def rt_record(message: Message) -> None:
        parsed = parse_decision_message(message.value())
        if isinstance(parsed, Ok) and parsed.value.decision.segment == "ACTIVE":
            with line.lock:
                line.decided.setdefault(parsed.value.decision.customer_id, message.timestamp()[1] / 1000)

    threads = [
        threading.Thread(
            target=consume, args=(stack.kafka_bootstrap, topics.orders_cdc, stop, cdc_record), daemon=True
        ),
        threading.Thread(
            target=consume, args=(stack.kafka_bootstrap, topics.order_facts, stop, fact_record), daemon=True
        ),
        threading.Thread(
            target=consume,
            args=(stack.kafka_bootstrap, topics.marketing_segments_rt, stop, rt_record),
            daemon=True,
        ),
        threading.Thread(target=send_events, args=(world, line, stop), daemon=True),
    ]
    base = 5_000_000_000 + random.randrange(1_000_000_000)
    try:
        # Flows ready: a first order through the whole path, to its decision, before the clock starts.
        for thread in threads:
            thread.start()
        write_orders(world, 10, 1, base - 1_000_000, line, 1)
        deadline = time.monotonic() + 180
        while not line.decided:
            if time.monotonic() > deadline:
                raise SystemExit("no decision within 180 s: " + "; ".join(f.log_tail() for f in flows))
            time.sleep(0.2)  # waiting for the flows to start
        with line.lock:
            for store in (line.committed, line.on_cdc, line.on_facts, line.sampled, line.decided):
                store.clear()
        started = time.monotonic()
        written = write_orders(world, args.rate, args.seconds, base, line, args.sample_rate)
        write_seconds = time.monotonic() - started
        deadline = time.monotonic() + args.settle
        while time.monotonic() < deadline:
            with line.lock:
                done = len(line.on_facts) >= written and all(c in line.decided for c in line.sampled)
            if done:
                break
            time.sleep(0.2)  # waiting for the tail
    finally:
        stop.set()
        for flow in flows:
            flow.stop()
        delete_connector(stack, connector.name)
        admin.delete_topics(list(topic_configs(topics)), missing_ok=True)
        world.drop_inventory_table()
        with MariaDbCrm(crm_endpoint(stack)) as crm:
            crm.delete_orders(range(base - 1_000_000, base - 1_000_000 + 10))
            crm.delete_orders(range(base, base + int(args.rate * args.seconds) + 100))
    with line.lock:
        committed = dict(line.committed)
        cdc = [line.on_cdc[c] - t for c, t in committed.items() if c in line.on_cdc]
        facts = [line.on_facts[c] - t for c, t in committed.items() if c in line.on_facts]
        decisions = [line.decided[c] - line.sampled[c] for c in line.sampled if c in line.decided]
        last_fact = max(line.on_facts.values(), default=float("nan"))
    first_commit = min(committed.values())
    result = {
        "rate_offered": args.rate,
        "orders_committed": written,
        "commit_rate": round(written / write_seconds, 1),
        "orders_on_orders_cdc": len(cdc),
        "orders_on_order_facts": len(facts),
        "delivered_rate": round(len(facts) / (last_fact - first_commit), 1) if facts else 0,
        "commit_to_orders_cdc_p50_p99_s": [round(pct(cdc, 0.5), 3), round(pct(cdc, 0.99), 3)],
        "commit_to_order_facts_p50_p99_s": [round(pct(facts, 0.5), 3), round(pct(facts, 0.99), 3)],
        "commit_to_decision_p50_p99_s": [round(pct(decisions, 0.5), 3), round(pct(decisions, 0.99), 3)],
        "decisions_timed": len(decisions),
        "decisions_sampled": len(line.sampled),
        "cdc_mean_s": round(statistics.fmean(cdc), 3) if cdc else None,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
