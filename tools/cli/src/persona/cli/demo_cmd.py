"""`persona demo`: the whole pipeline on the local stack, with live progress.

Brings the stack up, seeds profiles (Paimon) and inventory (Cassandra), starts the cdc, enrich and
sink flows as separate processes (as in production), streams generated events and order changes to
Kafka, and prints events in, decisions, dead letters, segment counts and freshness p50/p99 every
two seconds until Ctrl-C or ``--seconds``. Then it stops the flows cleanly (the sink commits) and
prints a summary and a sample of ``marketing_segments`` read back from Paimon.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import shutil
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from persona.benchkit.stats import percentile
from persona.cli.generate_cmd import add_generator_args, generator_config, local_pipeline_env, seed_stores
from persona.cli.segments_cmd import format_table
from persona.contracts import Ok, Topics, parse_decision_message
from persona.datagen import DataGenerator
from persona.datagen.loaders import StreamStats, stream_to_kafka
from persona.kafka import end_offsets, tail_values
from persona.localstack import StackError, StackSettings, up
from persona.localstack.runner import FLOWS, FlowProcess
from persona.paimon import PaimonWarehouse
from persona.settings import PipelineSettings

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the whole pipeline on the local stack with live progress"
    )
    add_generator_args(parser)
    parser.set_defaults(customers=2_000, skus=300)
    parser.add_argument("--rate", type=float, default=300, help="records per second to Kafka")
    parser.add_argument(
        "--seconds", type=float, default=0, help="stop after N seconds (default: until Ctrl-C)"
    )
    parser.add_argument(
        "--commit-interval", type=float, default=5.0, help="Paimon commit interval of the sink"
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="start the flows without the state of earlier demo runs (removes their recovery stores)",
    )
    parser.set_defaults(func=run)


def _report_exit(flow: FlowProcess) -> None:
    tail = flow.log_tail()
    log.error("flow %s exited; last lines of %s:\n%s", flow.name, flow.log_path, tail)
    if "recovery store holds" in tail:
        # State an earlier demo run left, in a shape or shard count this one cannot resume from.
        log.error(
            "%s cannot resume from the state an earlier demo left in %s; "
            "run `persona demo --fresh` to start without it",
            flow.name,
            flow.recovery_dir,
        )


@dataclass
class Watch:
    """What the demo has seen on marketing_segments_rt since it started."""

    decisions: int = 0
    freshness: list[float] = field(default_factory=list)
    latest: dict[int, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def segments(self) -> Counter[str]:
        with self.lock:
            return Counter(self.latest.values())


def watch_rt(bootstrap: str, topic: str, watch: Watch, stop: threading.Event) -> None:
    for values in tail_values(bootstrap, topic, stop.is_set):
        for value in values:
            parsed = parse_decision_message(value or b"")
            if not isinstance(parsed, Ok):
                continue
            d = parsed.value.decision
            with watch.lock:
                watch.decisions += 1
                # Event to arrival here: every hop of the pipeline, Kafka included.
                watch.freshness.append(time.time() - d.event_time_ms / 1000)
                watch.latest[d.customer_id] = d.segment


def _dlq_total(bootstrap: str, topics: Topics) -> int:
    total = 0
    for topic in (topics.behavior_events, topics.orders_cdc):
        total += sum(end_offsets(bootstrap, Topics.dlq(topic)).values())
    return total


def _wait_ready(flows: list[FlowProcess], timeout: float) -> bool:
    """Ready = each flow has completed an epoch (its recovery store says so): its Kafka inputs are
    assigned and every step is built, so the first events are not timed against start-up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [f for f in flows if not f.alive()]
        if dead:
            for f in dead:
                _report_exit(f)
            for f in flows:
                f.stop()
            return False
        if all(f.input_offsets() for f in flows):
            return True
        time.sleep(0.2)  # polling interval of the readiness check
    log.error("flows did not become ready in %.0f s; see their logs in %s", timeout, flows[0].log_path.parent)
    for f in flows:
        f.stop()
    return False


def run(args: argparse.Namespace) -> int:
    stack_settings = StackSettings.from_env(os.environ)
    try:
        up(stack_settings)
    except StackError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    flow_env = {**local_pipeline_env(stack_settings), "PERSONA_COMMIT_INTERVAL": str(args.commit_interval)}
    settings = PipelineSettings.from_env({**os.environ, **flow_env})
    run_id = dt.datetime.now(dt.UTC).strftime("-%Y%m%d%H%M%S")
    # Profiles as of yesterday, as if last night's RFM job had run.
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    gen = DataGenerator(
        generator_config(args, run_id=run_id, order_id_base=int(time.time()) * 1000, rfm_as_of=yesterday)
    )
    log.info("seeding profiles into Paimon and inventory into Cassandra…")
    profiles, skus = seed_stores(gen, settings)
    print(f"  {profiles} profiles, {skus} SKUs ({len(gen.unknown_skus)} more SKUs are unknown to Cassandra)")

    state_dir = stack_settings.home / "demo"
    if args.fresh:
        shutil.rmtree(state_dir / "recovery", ignore_errors=True)
    flows = [FlowProcess.configured(name, state_dir, flow_env, settings) for name in FLOWS]
    stop = threading.Event()
    watch = Watch()
    watcher = threading.Thread(
        target=watch_rt,
        args=(settings.kafka_bootstrap, settings.topics.marketing_segments_rt, watch, stop),
        daemon=True,
    )
    stream_stats = StreamStats()
    dlq_at_start = _dlq_total(settings.kafka_bootstrap, settings.topics)
    log.info("starting the %s flows…", ", ".join(FLOWS))
    for f in flows:
        f.start()
    if not _wait_ready(flows, timeout=120):
        return 1
    print(f"flows started (logs: {state_dir / 'logs'}); streaming {args.rate:.0f} records/s — Ctrl-C to stop")
    watcher.start()

    def show_progress(s: StreamStats) -> None:
        stream_stats.events, stream_stats.orders = s.events, s.orders

    def produce() -> None:
        final = stream_to_kafka(
            gen,
            settings.kafka_bootstrap,
            settings.topics,
            rate=args.rate,
            seconds=args.seconds if args.seconds > 0 else float("inf"),
            should_stop=stop.is_set,
            on_progress=show_progress,
        )
        stream_stats.events, stream_stats.orders, stream_stats.seconds = (
            final.events,
            final.orders,
            final.seconds,
        )

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    started = time.monotonic()
    code = 0
    try:
        while producer.is_alive():
            producer.join(2.0)
            dead = [f for f in flows if not f.alive()]
            if dead:
                for f in dead:
                    _report_exit(f)
                code = 1
                break
            with watch.lock:
                recent = watch.freshness[-5000:]
                decisions = watch.decisions
            segs = " ".join(f"{k}={v}" for k, v in sorted(watch.segments().items()))
            print(
                f"[{time.monotonic() - started:6.1f}s] events in {stream_stats.events:,} orders {stream_stats.orders:,} "
                f"| decisions {decisions:,} | dlq {_dlq_total(settings.kafka_bootstrap, settings.topics) - dlq_at_start} "
                f"| freshness p50 {percentile(recent, 0.5):.2f}s p99 {percentile(recent, 0.99):.2f}s | {segs}",
                flush=True,
            )
    except KeyboardInterrupt:
        log.info("stopping…")
    finally:
        stop.set()
        producer.join(30)
        for f in flows:  # upstream first and the sink last, so it commits what the others finished
            f.stop()
        watcher.join(5)
    _summary(settings, watch, stream_stats)
    return code


def _summary(settings: PipelineSettings, watch: Watch, stats: StreamStats) -> None:
    print("\n== summary ==")
    print(f"produced {stats.events:,} events and {stats.orders:,} order changes in {stats.seconds:.1f}s")
    print(
        f"decisions seen on {settings.topics.marketing_segments_rt}: {watch.decisions:,}; freshness event→Kafka "
        f"p50 {percentile(watch.freshness, 0.5):.2f}s p99 {percentile(watch.freshness, 0.99):.2f}s"
    )
    warehouse = PaimonWarehouse(settings.warehouse)
    try:
        counts = warehouse.sql(
            "SELECT segment, count(*) AS customers FROM marketing_segments GROUP BY segment ORDER BY segment"
        )
        print("\nmarketing_segments in Paimon (latest committed snapshot):")
        print(format_table(counts.to_pylist(), counts.column_names))
        sample = warehouse.sql(
            "SELECT customer_id, segment, recommendation, score, event_time, version "
            "FROM marketing_segments ORDER BY updated_at DESC LIMIT 5"
        )
        print(format_table(sample.to_pylist(), sample.column_names))
        print("\nexplain one: uv run persona segments explain <customer_id>")
    except Exception as error:  # the summary must not hide the run's own outcome
        log.warning("could not read marketing_segments: %s", error)
