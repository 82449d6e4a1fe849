"""The load generator: a separate process producing behavior events and order changes to Kafka.

Generating each record with ``persona.datagen`` as it is sent would cost as much CPU as the
pipeline under test has at the target rates, on the same cores. So the process generates a pool
of records once, all stamped with one time ``T0``, and produces them over and over, rewriting per
record only what must change: the event time (``T0`` → now, both the ISO and the epoch-ms forms
the generator uses) and, from the second pass over the pool on, the run id inside every event id,
so no event repeats (the enrich flow drops repeated event ids as duplicates). Order ids do repeat across passes; each pass replays
the same order lifecycles, which the cdc flow treats as updates of the same orders.

``ProducerProcess`` is the bench's handle on that process: its rate, target and counts are shared
values the bench sets and reads while it runs. The process reads the Kafka security settings from
its own environment (inherited from the bench): a password is never pickled into its arguments.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from typing import Any

from persona.contracts import Topics
from persona.datagen import DataGenerator, GeneratorConfig
from persona.datagen.generator import iso_ms
from persona.kafka import produce
from persona.kafka.producers import make_producer, producer_config
from persona.settings.security import KafkaSecurity

# Far from any real clock value, so its digits appear nowhere else in a record.
T0_MS = 1_000_000_000_123


@dataclass(frozen=True)
class ProducerConfig:
    bootstrap: str
    topics: Topics
    generator: GeneratorConfig
    pool_size: int
    # Where records go while ``target`` is 0 (the producer-ceiling measurement).
    scratch_topic: str


def produced_topics(topics: Topics) -> tuple[str, str]:
    """The topics the producer offers load to: behavior events, then order changes (a pool
    record's kind indexes it)."""
    return (topics.behavior_events, topics.orders_cdc)


def client_config(config: ProducerConfig, env: Mapping[str, str]) -> dict[str, Any]:
    """The producer's librdkafka properties: large batches, and the security settings of ``env``."""
    return producer_config(
        config.bootstrap,
        KafkaSecurity.from_env(env).client_config(),
        **{"linger.ms": 20, "batch.size": 1_000_000},
    )


def build_pool(config: ProducerConfig) -> list[tuple[int, bytes, bytes]]:
    """(0 = event / 1 = order, key, value) records, all stamped ``T0_MS``."""
    gen = DataGenerator(config.generator)
    return [(0 if r.kind == "event" else 1, r.key, r.value) for r in gen.records(config.pool_size, T0_MS, 0)]


def run_producer(
    config: ProducerConfig,
    rate: Synchronized,  # type: ignore[type-arg]
    target: Synchronized,  # type: ignore[type-arg]
    stop: Event,
    ready: Event,
    events: Synchronized,  # type: ignore[type-arg]
    orders: Synchronized,  # type: ignore[type-arg]
) -> None:
    """Produce until ``stop`` is set, at ``rate.value`` records/s (0: as fast as Kafka takes them,
    negative: paused), to the pipeline's input topics (``target`` 1) or the scratch topic (0).

    A change of ``rate`` restarts the pacing from that moment. ``events``/``orders`` count what was
    handed to the producer (published every batch).
    """
    pool = build_pool(config)
    run_marker = f"{config.generator.run_id}-".encode()
    iso0 = iso_ms(T0_MS).encode()
    ms0 = str(T0_MS).encode()
    real = produced_topics(config.topics)
    scratch = (config.scratch_topic, config.scratch_topic)
    # Exactly the properties client_config() gives (make_producer's defaults are already in them).
    properties = client_config(config, os.environ)
    producer = make_producer(properties.pop("bootstrap.servers"), **properties)
    ready.set()
    n_events = n_orders = 0
    index = 0
    cycle = 0
    current_rate = -1.0
    base_count = 0
    base_time = time.monotonic()
    try:
        while not stop.is_set():
            wanted = float(rate.value)
            now = time.monotonic()
            if wanted != current_rate:
                current_rate, base_count, base_time = wanted, n_events + n_orders, now
            if current_rate < 0:
                time.sleep(0.05)  # paused
                continue
            if current_rate > 0:
                due = int(current_rate * (now - base_time)) - (n_events + n_orders - base_count)
                if due <= 0:
                    time.sleep(0.002)  # pacing to the target rate
                    continue
                due = min(due, 5_000)
            else:
                due = 5_000
            topic_names = real if target.value else scratch
            now_ms = int(time.time() * 1000)
            iso_now = iso_ms(now_ms).encode()
            ms_now = str(now_ms).encode()
            marker_now = f"{config.generator.run_id}{cycle}-".encode() if cycle else run_marker
            for _ in range(due):
                kind, key, value = pool[index]
                value = value.replace(iso0, iso_now).replace(ms0, ms_now)
                if cycle:
                    value = value.replace(run_marker, marker_now)
                produce(producer, topic_names[kind], value, key, wait=0.01)
                if kind:
                    n_orders += 1
                else:
                    n_events += 1
                index += 1
                if index == len(pool):
                    index = 0
                    cycle += 1
                    marker_now = f"{config.generator.run_id}{cycle}-".encode()
            producer.poll(0)
            events.value = n_events
            orders.value = n_orders
    finally:
        producer.flush(30)
        events.value = n_events
        orders.value = n_orders


class ProducerProcess:
    """The producer process and its shared controls (``run_producer``'s arguments)."""

    def __init__(self, config: ProducerConfig) -> None:
        ctx = mp.get_context("spawn")
        self.rate = ctx.Value("d", -1.0)
        self.target = ctx.Value("i", 1)
        self.events = ctx.Value("q", 0)
        self.orders = ctx.Value("q", 0)
        self.stop_event = ctx.Event()
        self.ready = ctx.Event()
        self.process = ctx.Process(
            target=run_producer,
            args=(config, self.rate, self.target, self.stop_event, self.ready, self.events, self.orders),
            daemon=True,
        )

    @property
    def total(self) -> int:
        """Records handed to Kafka so far, events and order changes."""
        return int(self.events.value) + int(self.orders.value)

    def set_rate(self, rate: float) -> None:
        """Records/s from now on; 0: as fast as Kafka takes them; negative: paused."""
        self.rate.value = rate

    def stop(self) -> None:
        self.stop_event.set()
        self.process.join(60)
        if self.process.is_alive():
            self.process.kill()

    def measure_ceiling(self, seconds: float) -> float:
        """Records/s the process produces unpaced to the scratch topic, nothing else running; it is
        paused again afterwards, with the pipeline's topics as its target."""
        self.target.value = 0
        self.set_rate(0)
        time.sleep(0.5)  # past the first batch
        start_total, start = self.total, time.monotonic()
        time.sleep(seconds)
        produced, elapsed = self.total - start_total, time.monotonic() - start
        self.set_rate(-1)
        time.sleep(0.5)
        self.target.value = 1
        return produced / elapsed
