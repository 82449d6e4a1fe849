"""`persona demo`: the whole pipeline on the local stack, with live progress.

Brings the stack up, seeds profiles (Paimon) and inventory (Cassandra), starts the cdc, enrich and
sink flows as separate processes, each under the supervisor `persona run` uses (a flow that dies is
restarted from its recovery store, as in production), streams generated events and order changes to
Kafka, and prints events in, decisions, dead letters, segment counts and freshness p50/p99 every
two seconds until Ctrl-C or ``--seconds``. The web console (`persona console`) runs beside it, on
PERSONA_CONSOLE_PORT, for as long as the demo does (``--no-console``: not started; its URL is printed
either way, with the command that starts it). Then it stops the flows cleanly (the sink last, so it
commits what the others finished) and prints a summary and a sample of ``marketing_segments`` read
back from Paimon. Every Kafka and Cassandra client it makes has the security settings.
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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from persona.benchkit.stats import percentile
from persona.cli.generate_cmd import (
    add_generator_args,
    generator_config,
    local_pipeline_env,
    seed_crm_customers,
    seed_stores,
)
from persona.cli.run_cmd import build_supervisor
from persona.cli.segments_cmd import format_table
from persona.console import ConsoleConfig, ConsoleServer
from persona.contracts import Ok, Topics, parse_decision_message
from persona.crm import CrmError, MariaDbCrm
from persona.datagen import DataGenerator
from persona.datagen.loaders import StreamStats, stream_to_kafka
from persona.kafka import end_offsets, tail_values
from persona.localstack import StackError, StackSettings, up
from persona.localstack.crm_schema import crm_endpoint
from persona.localstack.runner import FLOWS, FlowProcess
from persona.localstack.supervised import SupervisedFlows
from persona.localstack.supervisor import Supervisor
from persona.paimon import PaimonWarehouse
from persona.settings import PipelineSettings, SettingsError
from persona.settings.registry import METRICS_HOST

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
    parser.add_argument(
        "--no-console",
        action="store_true",
        help="do not start the web console beside the demo (start it yourself: persona console)",
    )
    parser.set_defaults(func=run)


def _start_console(env: Mapping[str, str], start: bool) -> ConsoleServer | None:
    """The console beside the demo, reading the demo's Prometheus and warehouse; None when not started
    (``--no-console``, or its port is taken: the demo runs on without it)."""
    config = ConsoleConfig.from_env(env)
    if not start:
        print(f"console: not started (--no-console); `persona console` serves it on {config.url}")
        return None
    server = ConsoleServer(config)
    try:
        server.start()
    except OSError as error:
        log.warning("%s; the demo runs without it (`persona console --port N` serves it elsewhere)", error)
        return None
    print(f"console: {config.url} (live segments, freshness, lag, dead letters, customer search)")
    return server


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


@dataclass(frozen=True)
class DemoConfig:
    """What the demo runs with, read once from the environment: the variables it sets for its flows
    (the local stack's addresses, the sink's commit interval) and the settings, the security settings
    among them, that its own clients and the flows' share."""

    flow_env: dict[str, str]
    settings: PipelineSettings

    @classmethod
    def from_env(cls, env: Mapping[str, str], stack: StackSettings, commit_interval: float) -> DemoConfig:
        flow_env = {
            **local_pipeline_env(stack),
            "PERSONA_COMMIT_INTERVAL": str(commit_interval),
            # Scraped by the local Prometheus on loopback; nothing else needs to reach them.
            "PERSONA_METRICS_HOST": METRICS_HOST.given(env) or "127.0.0.1",
        }
        return cls(flow_env, PipelineSettings.from_env({**env, **flow_env}))

    def kafka_config(self) -> dict[str, str]:
        """The security properties of every Kafka client the demo makes (watcher, offsets, producer)."""
        return self.settings.kafka_security.client_config()

    def supervisors(self, env: Mapping[str, str], state_dir: Path) -> list[Supervisor]:
        """One supervisor per flow, in pipeline order, built as `persona run` builds its own; the
        flows inherit ``env`` (the security settings too, as variables) with ``flow_env`` over it."""
        return [
            build_supervisor(name, env, flow_env=self.flow_env, state_dir=state_dir, port_per_flow=True)
            for name in FLOWS
        ]


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


def watch_rt(
    bootstrap: str, topic: str, watch: Watch, stop: threading.Event, config: Mapping[str, str]
) -> None:
    for values in tail_values(bootstrap, topic, stop.is_set, config=config):
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


def _dlq_total(bootstrap: str, topics: Topics, config: Mapping[str, str]) -> int:
    total = 0
    for topic in (topics.behavior_events, topics.orders_cdc):
        total += sum(end_offsets(bootstrap, Topics.dlq(topic), config).values())
    return total


def _wait_ready(flows: SupervisedFlows, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ended = flows.ended()
        if ended:
            for flow in ended:
                _report_exit(flow)
            return False
        if flows.ready():
            return True
        time.sleep(0.2)  # polling interval of the readiness check
    log.error(
        "flows did not become ready in %.0f s; see their logs in %s", timeout, flows.flows[0].log_path.parent
    )
    for flow in flows.flows:
        if not flow.input_offsets():
            _report_exit(flow)
    return False


def run(args: argparse.Namespace) -> int:
    try:
        stack_settings = StackSettings.from_env(os.environ)
        up(stack_settings)
        demo = DemoConfig.from_env(os.environ, stack_settings, args.commit_interval)
    except (StackError, SettingsError) as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    settings = demo.settings
    kafka_config = demo.kafka_config()
    run_id = dt.datetime.now(dt.UTC).strftime("-%Y%m%d%H%M%S")
    # Profiles as of yesterday, as if last night's RFM job had run.
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    gen = DataGenerator(
        generator_config(args, run_id=run_id, order_id_base=int(time.time()) * 1000, rfm_as_of=yesterday)
    )
    log.info("seeding profiles into Paimon and inventory into Cassandra…")
    profiles, skus = seed_stores(gen, settings)
    print(f"  {profiles} profiles, {skus} SKUs ({len(gen.unknown_skus)} more SKUs are unknown to Cassandra)")
    try:
        # The demo's order changes are statements on the CRM; Debezium carries them to orders_cdc.
        crm = MariaDbCrm(crm_endpoint(stack_settings))
        print(f"  {seed_crm_customers(gen, crm)} customers in the CRM ({stack_settings.crm_database})")
    except CrmError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1

    state_dir = stack_settings.home / "demo"
    if args.fresh:
        shutil.rmtree(state_dir / "recovery", ignore_errors=True)
    flows = SupervisedFlows(demo.supervisors(os.environ, state_dir))
    stop = threading.Event()
    watch = Watch()
    watcher = threading.Thread(
        target=watch_rt,
        args=(settings.kafka_bootstrap, settings.topics.marketing_segments_rt, watch, stop, kafka_config),
        daemon=True,
    )
    stream_stats = StreamStats()
    dlq_at_start = _dlq_total(settings.kafka_bootstrap, settings.topics, kafka_config)

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
            kafka_config=kafka_config,
            crm=crm,
        )
        stream_stats.events, stream_stats.orders, stream_stats.seconds = (
            final.events,
            final.orders,
            final.seconds,
        )
        stream_stats.orders_skipped = final.orders_skipped

    producer = threading.Thread(target=produce, daemon=True)
    log.info("starting the %s flows…", ", ".join(FLOWS))
    code = 0
    console: ConsoleServer | None = None
    try:
        flows.start()
        if not _wait_ready(flows, timeout=120):
            return 1
        console = _start_console({**os.environ, **demo.flow_env}, start=not args.no_console)
        print(
            f"flows started (logs: {state_dir / 'logs'}); streaming {args.rate:.0f} records/s — Ctrl-C to stop"
        )
        watcher.start()
        producer.start()
        started = time.monotonic()
        while producer.is_alive():
            producer.join(2.0)
            ended = flows.ended()
            if ended:
                for flow in ended:
                    _report_exit(flow)
                code = 1
                break
            with watch.lock:
                recent = watch.freshness[-5000:]
                decisions = watch.decisions
            segs = " ".join(f"{k}={v}" for k, v in sorted(watch.segments().items()))
            restarts = flows.restarts()
            print(
                f"[{time.monotonic() - started:6.1f}s] events in {stream_stats.events:,} CRM orders {stream_stats.orders:,} "
                f"| decisions {decisions:,} "
                f"| dlq {_dlq_total(settings.kafka_bootstrap, settings.topics, kafka_config) - dlq_at_start} "
                f"| freshness p50 {percentile(recent, 0.5):.2f}s p99 {percentile(recent, 0.99):.2f}s | {segs}"
                + (f" | flow restarts {restarts}" if restarts else ""),
                flush=True,
            )
    except KeyboardInterrupt:
        log.info("stopping…")
    finally:
        stop.set()
        if producer.ident is not None:
            producer.join(30)
        flows.stop()
        crm.close()
        if watcher.ident is not None:
            watcher.join(5)
        if console is not None:
            console.stop()
    _summary(settings, watch, stream_stats)
    return code


def _summary(settings: PipelineSettings, watch: Watch, stats: StreamStats) -> None:
    print("\n== summary ==")
    print(
        f"produced {stats.events:,} events to Kafka and {stats.orders:,} order changes to the CRM "
        f"(through Debezium to orders_cdc) in {stats.seconds:.1f}s"
        + (
            f"; {stats.orders_skipped:,} malformed order records had no CRM statement"
            if stats.orders_skipped
            else ""
        )
    )
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
