"""`persona bench`: sustained throughput and end-to-end freshness of the three flows on the stack.

One run: a private scenario (topics ``bench_<tag>_*``, a Cassandra table, a warehouse under
``$PERSONA_HOME/bench/<tag>``), profiles loaded into Paimon and inventory into Cassandra, the cdc,
enrich and sink flows started as separate processes exactly as in production, then a producer
process offering events (plus ~5% order changes) at a target rate. Measurement windows are chosen
by event time; nothing in the flows is instrumented:

* event → ``marketing_segments_rt``: the private rt topic uses ``LogAppendTime``, so every message
  carries the broker's time of arrival; minus the decision's ``event_time``.
* event → committed Paimon snapshot: every snapshot of ``segment_decisions`` (one row per
  decision) is read incrementally (the rows it added); its commit time minus each row's
  ``event_time``.
* throughput: decisions that arrived on the rt topic per second of the window (one per behavior
  event; order changes, ~5% more records, produce none).
* consumer lag: Kafka end offsets minus what each flow has durably processed (its recovery store).
* CPU and RSS of each flow (and of Kafka, Cassandra and the bench's own producer), and the whole
  machine's CPU, from /proc every two seconds.
* the floor: after the flows stop, a bare confluent-kafka consumer drains the same input topics
  from the beginning with no processing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import multiprocessing as mp
import os
import shutil
import sys
import threading
import time
import uuid
from array import array
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from persona.benchkit.core_plan import PinnedProcesses, plan_cores
from persona.benchkit.procstat import MachineSampler, ProcessSampler
from persona.benchkit.producer import ProducerConfig, run_producer
from persona.benchkit.stats import (
    StepResult,
    caught_up,
    highest_held_rate,
    parse_iso_ms,
    percentiles,
)
from persona.contracts import Topics
from persona.datagen import DataGenerator, GeneratorConfig
from persona.datagen.loaders import load_inventory, load_profiles
from persona.inventory import CassandraInventory
from persona.localstack import (
    INVENTORY_COLUMNS_CQL,
    StackSettings,
    cassandra_session,
    create_topic,
    kafka_admin,
    running_pid,
    up,
)
from persona.localstack.runner import FlowProcess, committed_input_offsets
from persona.paimon import PaimonWarehouse, ensure_tables
from persona.settings import PipelineSettings

FLOW_NAMES = ("cdc", "enrich", "sink")


@dataclass
class BenchConfig:
    customers: int = 1_000_000
    skus: int = 100_000
    # Records/s offered (events + order changes); 0: as fast as Kafka takes them.
    rate: float = 30_000
    warmup_s: float = 30.0
    measure_s: float = 120.0
    # Step mode: offered rates held ``step_s`` each (the last ``2/3`` of each step is measured).
    step_rates: list[float] = field(default_factory=list)
    step_s: float = 60.0
    commit_interval: float = 10.0
    # The enrich flow's epoch; None: the commit interval (PERSONA_ENRICH_EPOCH).
    enrich_epoch: float | None = None
    partitions: int = 4
    pool_size: int = 400_000
    seed: int = 7
    ceiling_s: float = 5.0
    drain_timeout_s: float = 90.0
    p99_paimon_limit_s: float = 30.0
    # py-spy samples this flow during the measured window into ``profile``.
    profile: Path | None = None
    profile_flow: str = "enrich"
    keep: bool = False
    # Enrich gets a core to itself: every other process of the run is pinned to the remaining
    # cores (``core_plan``); False leaves all of them to the kernel's scheduler.
    enrich_core: bool = True
    # After the warm-up, keep the load on (up to this many seconds) until the flows have caught up,
    # so the measured window starts from a steady state: a just-started stack's cold JVMs leave a
    # backlog that takes minutes to drain (BENCHMARKS round ten). 0: measure after the warm-up as is.
    settle_max_s: float = 600.0


@dataclass
class WindowResult:
    name: str
    start_ms: int
    end_ms: int
    offered_eps: float
    produced_events: int
    throughput_eps: float
    decisions_rt: int
    decisions_paimon: int
    rt_p50_s: float
    rt_p95_s: float
    rt_p99_s: float
    paimon_p50_s: float
    paimon_p95_s: float
    paimon_p99_s: float

    @property
    def missing_fraction(self) -> float:
        if self.produced_events <= 0:
            return 0.0
        landed = min(self.decisions_rt, self.decisions_paimon)
        return max(0.0, 1.0 - landed / self.produced_events)

    @property
    def offered_events_eps(self) -> float:
        return self.produced_events / ((self.end_ms - self.start_ms) / 1000)

    def step(self) -> StepResult:
        return StepResult(
            self.offered_eps,
            self.throughput_eps,
            self.rt_p99_s,
            self.paimon_p99_s,
            missing_fraction=self.missing_fraction,
            events_share=self.offered_events_eps / self.offered_eps if self.offered_eps else 1.0,
        )


@dataclass
class BenchReport:
    tag: str
    started_at: str
    config: dict[str, Any]
    machine: dict[str, Any]
    load: dict[str, float]
    producer_ceiling_eps: float
    flows_ready_s: float
    windows: list[WindowResult]
    floor_eps: float
    floor_records: int
    highest_held_eps: float | None
    samples: list[dict[str, Any]]
    series: dict[str, list[float]]
    profile_path: str | None = None
    # Seconds the warm-up was extended until the flows caught up (``settle_max_s``).
    settled_s: float = 0.0
    # When the producer started offering load (epoch ms): second 0 of ``series``.
    load_started_ms: int = 0

    @property
    def main(self) -> WindowResult:
        return self.windows[-1] if not self.config["step_rates"] else self._best_window()

    def _best_window(self) -> WindowResult:
        held = self.highest_held_eps
        for w in self.windows:
            if held is not None and w.offered_eps >= 0 and round(w.offered_eps) == round(held):
                return w
        return self.windows[0]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["windows"] = [
            {**asdict(w), "missing_fraction": w.missing_fraction, "offered_events_eps": w.offered_events_eps}
            for w in self.windows
        ]
        return out


def start_profiler(pid: int, seconds: float, out: Path) -> Any:
    """py-spy sampling the process ``pid`` for ``seconds`` (collapsed stacks, with idle frames and
    every thread), written to ``out``; ``out.with_suffix('.svg')`` gets a flame graph as well."""
    import subprocess

    out.parent.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(round(seconds)),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine_info() -> dict[str, Any]:
    import platform

    mem_kb = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


class Offsets:
    """Kafka end offsets through one long-lived consumer (cheap to ask every second)."""

    def __init__(self, bootstrap: str) -> None:
        self._consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": f"persona-bench-offsets-{uuid.uuid4().hex}"}
        )
        self._partitions: dict[str, list[int]] = {}

    def end(self, topic: str) -> dict[int, int]:
        if topic not in self._partitions:
            meta = self._consumer.list_topics(topic, timeout=10)
            self._partitions[topic] = sorted(meta.topics[topic].partitions)
        return {
            p: int(
                self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
            )
            for p in self._partitions[topic]
        }

    def close(self) -> None:
        self._consumer.close()


def flow_inputs(topics: Topics) -> dict[str, list[str]]:
    return {
        "cdc": [topics.orders_cdc],
        "enrich": [topics.behavior_events, topics.order_facts, topics.inventory_changes],
        "sink": [topics.segment_decisions],
    }


def flow_lag(offsets: Offsets, flow: FlowProcess, inputs: list[str]) -> int:
    done = committed_input_offsets(flow.recovery_dir, f"persona_{flow.name}.in")
    lag = 0
    for topic in inputs:
        for p, end in offsets.end(topic).items():
            lag += max(0, end - done.get(f"{p}-{topic}", 0))
    return lag


def processed_at_least(flow: FlowProcess, topic: str, targets: dict[int, int]) -> bool:
    done = committed_input_offsets(flow.recovery_dir, f"persona_{flow.name}.in")
    return all(done.get(f"{p}-{topic}", 0) >= end for p, end in targets.items())


class Producer:
    """The producer process and its shared controls."""

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
        return int(self.events.value) + int(self.orders.value)

    def set_rate(self, rate: float) -> None:
        self.rate.value = rate

    def stop(self) -> None:
        self.stop_event.set()
        self.process.join(60)
        if self.process.is_alive():
            self.process.kill()


def run_bench(cfg: BenchConfig, log: Callable[[str], None] = _log) -> BenchReport:
    stack = StackSettings.from_env(os.environ)
    up(stack)
    tag = uuid.uuid4().hex[:8]
    prefix = f"bench_{tag}_"
    topics = Topics.with_prefix(prefix)
    base = stack.home / "bench" / tag
    warehouse_dir = base / "warehouse"
    inventory_table = f"bench_{tag}"
    scratch_topic = f"{prefix}producer_ceiling"
    names = [*topics.all_topics(), scratch_topic]
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    log(f"run {tag}: {cfg.customers:,} customers, {cfg.skus:,} SKUs, topics {prefix}*, state {base}")
    admin = kafka_admin(stack)
    producer: Producer | None = None
    flows: list[FlowProcess] = []
    pinned: PinnedProcesses | None = None
    try:
        for name in names:
            config: dict[str, str] = {}
            if name == topics.marketing_segments_rt:
                # The broker stamps arrival time; kept uncompacted so every decision can be read back.
                config = {"message.timestamp.type": "LogAppendTime"}
            elif name in topics.compacted():
                config = {"cleanup.policy": "compact"}
            create_topic(stack, name, cfg.partitions, config, admin=admin)
        with cassandra_session(stack, "supply") as session:
            session.execute(f"CREATE TABLE {inventory_table} {INVENTORY_COLUMNS_CQL}")
        ensure_tables(warehouse_dir)
        env = {
            "PERSONA_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
            "PERSONA_CASSANDRA_PORT": str(stack.cassandra_contact[1]),
            "PERSONA_TOPIC_PREFIX": prefix,
            "PERSONA_WAREHOUSE": str(warehouse_dir),
            "PERSONA_INVENTORY_TABLE": inventory_table,
            "PERSONA_COMMIT_INTERVAL": str(cfg.commit_interval),
            "PERSONA_ENRICH_EPOCH": str(cfg.enrich_epoch or ""),
            "PERSONA_GROUP_PREFIX": f"bench-{tag}",
        }
        gen_config = GeneratorConfig(
            seed=cfg.seed,
            customers=cfg.customers,
            skus=cfg.skus,
            unsellable_fraction=0.05,
            unknown_fraction=0.10,
            order_fraction=0.05,
            rfm_as_of=dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1),
            run_id=f"-b{tag}",
            order_id_base=0,
        )
        # The producer builds its record pool while the stores load.
        producer = Producer(
            ProducerConfig(stack.kafka_bootstrap, topics, gen_config, cfg.pool_size, scratch_topic)
        )
        producer.process.start()

        load: dict[str, float] = {}
        gen = DataGenerator(gen_config)
        t = time.monotonic()
        load["profiles"] = load_profiles(gen, PaimonWarehouse(warehouse_dir), "customer_profile")
        load["profiles_s"] = time.monotonic() - t
        t = time.monotonic()
        store = CassandraInventory(
            [stack.cassandra_contact[0]], stack.cassandra_contact[1], table=inventory_table
        )
        try:
            load["skus"] = load_inventory(gen, store, int(time.time() * 1000))
        finally:
            store.close()
        load["skus_s"] = time.monotonic() - t
        log(
            f"loaded {load['profiles']:,.0f} profiles in {load['profiles_s']:.1f}s, "
            f"{load['skus']:,.0f} SKUs in {load['skus_s']:.1f}s"
        )

        producer.ready.wait(300)
        ceiling = _measure_ceiling(producer, cfg.ceiling_s)
        log(f"producer ceiling (one process, scratch topic, nothing else running): {ceiling:,.0f} records/s")

        state_dir = base / "state"
        flow_settings = PipelineSettings.from_env({**os.environ, **env})
        flows = [FlowProcess.configured(n, state_dir, env, flow_settings) for n in FLOW_NAMES]
        t = time.monotonic()
        for f in flows:
            f.start()
        _wait_ready(flows, timeout=300)
        ready_s = time.monotonic() - t
        log(f"flows ready in {ready_s:.1f}s (enrich loaded its profiles); logs in {state_dir / 'logs'}")
        if cfg.enrich_core:
            pinned = _give_enrich_a_core(stack, producer, flows, log)

        offsets = Offsets(stack.kafka_bootstrap)
        monitor = Monitor(flows, offsets, topics, producer, stack)
        monitor.start()
        load_started_ms = int(time.time() * 1000)
        windows, settled_s = _drive(cfg, producer, flows, log)
        # Keep the load on until every event of the last window is in Paimon (or the deadline).
        _drain(cfg, flows, offsets, topics, windows[-1], log)
        producer.set_rate(-1)
        monitor.stop()
        run_end_ms = int(time.time() * 1000)
        producer.stop()
        for f in flows:
            f.stop()
        offsets.close()
        if pinned is not None:
            # The floor is measured with nothing else running: on every core, as before the plan.
            pinned.restore()

        log("reading back marketing_segments_rt and the segment_decisions snapshots…")
        rt_event, rt_arrival = read_rt(stack.kafka_bootstrap, topics.marketing_segments_rt)
        pm_event, pm_commit = read_paimon_commits(PaimonWarehouse(warehouse_dir), "segment_decisions")
        results = [_window_result(w, rt_event, rt_arrival, pm_event, pm_commit) for w in windows]
        series = _series(load_started_ms, run_end_ms, rt_event, rt_arrival, pm_event, pm_commit)
        floor_eps, floor_records = measure_floor(
            stack.kafka_bootstrap, [topics.behavior_events, topics.orders_cdc], cfg.partitions
        )
        log(f"floor: a bare consumer drained {floor_records:,} input records at {floor_eps:,.0f}/s")
        held = (
            highest_held_rate([r.step() for r in results], p99_paimon_limit_s=cfg.p99_paimon_limit_s)
            if cfg.step_rates
            else None
        )
        return BenchReport(
            tag=tag,
            started_at=started_at,
            config={**asdict(cfg), "profile": str(cfg.profile) if cfg.profile else None},
            machine=machine_info(),
            load=load,
            producer_ceiling_eps=ceiling,
            flows_ready_s=ready_s,
            windows=results,
            floor_eps=floor_eps,
            floor_records=floor_records,
            highest_held_eps=held,
            samples=monitor.samples,
            series=series,
            profile_path=str(cfg.profile) if cfg.profile else None,
            settled_s=settled_s,
            load_started_ms=load_started_ms,
        )
    finally:
        if producer is not None and producer.process.is_alive():
            producer.stop()
        for f in flows:
            f.stop()
        if pinned is not None:
            pinned.restore()
        _cleanup(stack, admin, names, inventory_table, base, keep=cfg.keep, log=log)


def _give_enrich_a_core(
    stack: StackSettings, producer: Producer, flows: list[FlowProcess], log: Callable[[str], None]
) -> PinnedProcesses | None:
    """Pin every process of the run but enrich (Kafka, Cassandra, sink, cdc, the producer and this
    one) to the cores enrich's core is not; their old affinity comes back when the run ends."""
    plan = plan_cores(os.sched_getaffinity(0))
    if plan is None:
        log("one CPU only: enrich shares it with everything else")
        return None
    pids = [f.process.pid for f in flows if f.name != "enrich" and f.process is not None]
    pids += [pid for s in ("kafka", "cassandra") if (pid := running_pid(stack, s)) is not None]
    if producer.process.pid is not None:
        pids.append(producer.process.pid)
    pids.append(os.getpid())
    pinned, threads = PinnedProcesses.pin(pids, plan.others)
    log(f"{plan.describe()}: {len(pinned.before)} processes ({threads} threads) pinned")
    return pinned


@dataclass
class Window:
    name: str
    offered: float
    start_ms: int
    end_ms: int
    produced_events: int = 0
    produced_total: int = 0


def _measure_ceiling(producer: Producer, seconds: float) -> float:
    producer.target.value = 0
    producer.set_rate(0)
    time.sleep(0.5)  # past the first batch
    start_total, start = producer.total, time.monotonic()
    time.sleep(seconds)
    produced, elapsed = producer.total - start_total, time.monotonic() - start
    producer.set_rate(-1)
    time.sleep(0.5)
    producer.target.value = 1
    return produced / elapsed


def _wait_ready(flows: list[FlowProcess], timeout: float) -> None:
    """Ready = every flow has completed an epoch: its inputs are assigned and every step is built."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [f for f in flows if not f.alive()]
        if dead:
            raise RuntimeError(f"flow {dead[0].name} exited during start-up:\n{dead[0].log_tail()}")
        if all(committed_input_offsets(f.recovery_dir, f"persona_{f.name}.in") for f in flows):
            return
        time.sleep(0.5)  # polling interval of the readiness check
    raise RuntimeError("flows did not become ready in time")


def _check_alive(flows: list[FlowProcess]) -> None:
    dead = [f for f in flows if not f.alive()]
    if dead:
        raise RuntimeError(f"flow {dead[0].name} exited under load:\n{dead[0].log_tail()}")


def _hold(producer: Producer, flows: list[FlowProcess], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _check_alive(flows)
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def _window(
    producer: Producer, flows: list[FlowProcess], name: str, offered: float, seconds: float
) -> Window:
    events0, total0 = int(producer.events.value), producer.total
    start_ms = int(time.time() * 1000)
    _hold(producer, flows, seconds)
    end_ms = int(time.time() * 1000)
    return Window(
        name,
        offered,
        start_ms,
        end_ms,
        produced_events=int(producer.events.value) - events0,
        produced_total=producer.total - total0,
    )


def _drive(
    cfg: BenchConfig,
    producer: Producer,
    flows: list[FlowProcess],
    log: Callable[[str], None],
) -> tuple[list[Window], float]:
    if not cfg.step_rates:
        settled_s = _warm_up(
            cfg,
            producer,
            flows,
            log,
            cfg.rate,
            f"{cfg.warmup_s:.0f}s warm-up, then {cfg.measure_s:.0f}s measured",
        )
        spy = None
        if cfg.profile is not None:
            sampled = next(f for f in flows if f.name == cfg.profile_flow)
            assert sampled.process is not None
            spy = start_profiler(sampled.process.pid, cfg.measure_s, cfg.profile)
            log(f"py-spy samples the {sampled.name} flow during the measured window -> {cfg.profile}")
        window = _window(producer, flows, "measure", cfg.rate, cfg.measure_s)
        if spy is not None:
            spy.wait(60)
        return [window], settled_s
    settled_s = 0.0
    if cfg.warmup_s > 0:
        # Warm up at the first step's rate, as a single-rate run does, so the first step does not
        # measure a just-started stack's cold start.
        settled_s = _warm_up(
            cfg, producer, flows, log, cfg.step_rates[0], f"{cfg.warmup_s:.0f}s warm-up before the steps"
        )
    windows = []
    settle = cfg.step_s / 3
    for rate in cfg.step_rates:
        producer.set_rate(rate)
        log(f"step {rate:,.0f} records/s: {settle:.0f}s settle, {cfg.step_s - settle:.0f}s measured")
        _hold(producer, flows, settle)
        w = _window(producer, flows, f"step-{rate:.0f}", rate, cfg.step_s - settle)
        windows.append(w)
        # A rate the flows cannot keep up with leaves a backlog: the steps above it would only
        # measure that backlog, so the search stops here.
        achieved = w.produced_total / max(1e-9, (w.end_ms - w.start_ms) / 1000)
        enrich = next(f for f in flows if f.name == "enrich")
        sink = next(f for f in flows if f.name == "sink")
        if achieved < 0.95 * rate:
            log(f"  the producer reached only {achieved:,.0f}/s; stopping the steps")
            break
        if _lagging(enrich, sink, rate, cfg):
            log("  the flows fell behind (lag above 30 s of input); stopping the steps")
            break
    return windows, settled_s


def _warm_up(
    cfg: BenchConfig,
    producer: Producer,
    flows: list[FlowProcess],
    log: Callable[[str], None],
    rate: float,
    plan: str,
) -> float:
    """Offer ``rate`` for ``cfg.warmup_s``, then until the flows caught up; the extension's seconds."""
    producer.set_rate(rate)
    what = f"{rate:,.0f} records/s" if rate > 0 else "as fast as possible"
    log(f"offering {what}: {plan}")
    _hold(producer, flows, cfg.warmup_s)
    return _settle(cfg, producer, flows, log, rate)


def _settle(
    cfg: BenchConfig,
    producer: Producer,
    flows: list[FlowProcess],
    log: Callable[[str], None],
    rate: float,
) -> float:
    """Keep ``rate`` offered until the lag samples of the last two epochs show the flows caught up
    (``stats.caught_up``), at most ``cfg.settle_max_s``; the seconds it took. An unpaced run
    (``rate`` 0) has no rate to catch up with."""
    if cfg.settle_max_s <= 0 or rate <= 0:
        return 0.0
    started = time.monotonic()
    epoch_s = max(cfg.commit_interval, cfg.enrich_epoch or cfg.commit_interval)
    history: list[int] = []
    seen: dict[str, int] | None = None
    last_log = started
    while time.monotonic() - started < cfg.settle_max_s:
        lags = Monitor.latest_lag
        if lags is not seen and lags:  # a new sample (the monitor replaces the dict every 2 s)
            seen = lags
            history.append(sum(lags.values()))
            if caught_up(history, rate, epoch_s, Monitor.SAMPLE_S):
                took = time.monotonic() - started
                log(f"warm-up extended by {took:.0f}s until the flows caught up")
                return took
        if time.monotonic() - last_log >= 30:
            last_log = time.monotonic()
            log(
                f"warm-up extended {last_log - started:.0f}s: the flows' lag is {history[-1] if history else 0:,}"
            )
        _hold(producer, flows, 0.5)
    log(f"the flows did not catch up within {cfg.settle_max_s:.0f}s more; measuring anyway")
    return time.monotonic() - started


def _lagging(enrich: FlowProcess, sink: FlowProcess, rate: float, cfg: BenchConfig) -> bool:
    # The monitor's newest lag sample would do as well; this reads it directly.
    # Lag is read from the recovery stores, so it includes up to an epoch of input that is processed but
    # not yet durable: an enrich epoch longer than the commit interval raises the bar by the difference.
    last = Monitor.latest_lag
    extra_s = max(0.0, (cfg.enrich_epoch or cfg.commit_interval) - cfg.commit_interval)
    return bool(last) and sum(last.values()) > rate * (cfg.p99_paimon_limit_s + extra_s)


def _drain(
    cfg: BenchConfig,
    flows: list[FlowProcess],
    offsets: Offsets,
    topics: Topics,
    last: Window,
    log: Callable[[str], None],
) -> None:
    enrich = next(f for f in flows if f.name == "enrich")
    sink = next(f for f in flows if f.name == "sink")
    events_end = offsets.end(topics.behavior_events)
    deadline = time.monotonic() + cfg.drain_timeout_s
    decisions_end: dict[int, int] | None = None
    while time.monotonic() < deadline:
        _check_alive(flows)
        if decisions_end is None:
            if processed_at_least(enrich, topics.behavior_events, events_end):
                decisions_end = offsets.end(topics.segment_decisions)
        elif processed_at_least(sink, topics.segment_decisions, decisions_end):
            return
        time.sleep(0.5)  # polling interval of the drain check
    log(f"drain deadline ({cfg.drain_timeout_s:.0f}s) passed: some events of the window are not in Paimon")


class Monitor:
    """Every two seconds: CPU%/RSS of each flow, Kafka, Cassandra and the producer; the machine's CPU%;
    lag of each flow; offered total."""

    SAMPLE_S = 2.0
    latest_lag: dict[str, int] = {}  # noqa: RUF012 - shared with the step search, one run per process

    def __init__(
        self,
        flows: list[FlowProcess],
        offsets: Offsets,
        topics: Topics,
        producer: Producer,
        stack: StackSettings,
    ) -> None:
        self.samples: list[dict[str, Any]] = []
        self._flows = flows
        self._offsets = offsets
        self._inputs = flow_inputs(topics)
        self._producer = producer
        self._samplers: dict[str, ProcessSampler] = {}
        for f in flows:
            if f.process is not None:
                self._samplers[f.name] = ProcessSampler(f.process.pid)
        for service in ("kafka", "cassandra"):
            pid = running_pid(stack, service)
            if pid is not None:
                self._samplers[service] = ProcessSampler(pid)
        if producer.process.pid is not None:
            # The load generator shares the machine's cores with what it measures.
            self._samplers["producer"] = ProcessSampler(producer.process.pid)
        self._machine = MachineSampler()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.time()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            sample: dict[str, Any] = {"t": now, "offered_total": self._producer.total}
            for name, sampler in self._samplers.items():
                got = sampler.sample(now)
                if got is not None:
                    sample[f"{name}_cpu"], sample[f"{name}_rss_mib"] = got[0], got[1] / 2**20
            busy = self._machine.sample()
            if busy is not None:
                sample["machine_cpu"] = busy
            lags: dict[str, int] = {}
            for f in self._flows:
                with contextlib.suppress(Exception):  # a flow between epochs or stopping
                    lags[f.name] = flow_lag(self._offsets, f, self._inputs[f.name])
                    sample[f"{f.name}_lag"] = lags[f.name]
            Monitor.latest_lag = lags
            self.samples.append(sample)
            self._stop.wait(Monitor.SAMPLE_S)


def read_rt(bootstrap: str, topic: str) -> tuple[array[int], array[int]]:
    """(event_time_ms, arrival_ms) of every message on the rt topic."""
    events: array[int] = array("q")
    arrivals: array[int] = array("q")
    marker = b'"event_time":"'
    for batch in _drain_topics(bootstrap, [topic]):
        for msg in batch:
            value = msg.value()
            if not value:
                continue
            at = value.find(marker)
            if at < 0:
                continue
            at += len(marker)
            events.append(parse_iso_ms(value[at : at + 24]))
            arrivals.append(msg.timestamp()[1])
    return events, arrivals


def _drain_topics(bootstrap: str, topics: list[str]) -> Any:
    """Batches of messages of ``topics`` from the beginning up to their end offsets at the call."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"persona-bench-read-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "fetch.max.bytes": 64 * 2**20,
            "max.partition.fetch.bytes": 16 * 2**20,
        }
    )
    try:
        remaining: dict[tuple[str, int], int] = {}
        assignment = []
        for topic in topics:
            meta = consumer.list_topics(topic, timeout=10)
            for p in sorted(meta.topics[topic].partitions):
                _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                if high > 0:
                    remaining[(topic, p)] = int(high)
                    assignment.append(TopicPartition(topic, p, 0))
        consumer.assign(assignment)
        idle_deadline = time.monotonic() + 30
        while remaining and time.monotonic() < idle_deadline:
            batch = consumer.consume(10_000, 1.0)
            if not batch:
                continue
            idle_deadline = time.monotonic() + 30
            good = [m for m in batch if m.error() is None]
            for m in good:
                key = (str(m.topic()), int(m.partition() or 0))
                end = remaining.get(key)
                if end is not None and int(m.offset() or 0) >= end - 1:
                    del remaining[key]
            yield good
    finally:
        consumer.close()


def measure_floor(bootstrap: str, topics: list[str], partitions: int) -> tuple[float, int]:
    """Records/s a bare consumer drains ``topics`` from the beginning, doing nothing with them."""
    count = 0
    started = time.perf_counter()
    for batch in _drain_topics(bootstrap, topics):
        count += len(batch)
    elapsed = time.perf_counter() - started
    return (count / elapsed if elapsed > 0 else math.nan), count


def read_paimon_commits(warehouse: PaimonWarehouse, table: str) -> tuple[array[int], array[int]]:
    """(event_time_ms, commit_ms) of every row of ``table``, from each snapshot's added rows."""
    import pyarrow as pa

    events: array[int] = array("q")
    commits: array[int] = array("q")
    snapshots = warehouse.snapshots(table)
    handle = warehouse.table(table)
    previous = 0
    for snap in snapshots:
        at = int(snap["time_millis"])
        scoped = handle.copy({"incremental-between-timestamp": f"{previous},{at}"})
        builder = scoped.new_read_builder().with_projection(["event_time"])
        data = builder.new_read().to_arrow(builder.new_scan().plan().splits())
        column = data.column("event_time").cast(pa.int64()).to_pylist()
        events.extend(v for v in column if v is not None)
        commits.extend(at for v in column if v is not None)
        previous = at
    return events, commits


def _freshness(events: array[int], arrived: array[int], start_ms: int, end_ms: int) -> list[float]:
    return [(a - e) / 1000 for e, a in zip(events, arrived, strict=True) if start_ms <= e < end_ms]


def _window_result(
    w: Window,
    rt_event: array[int],
    rt_arrival: array[int],
    pm_event: array[int],
    pm_commit: array[int],
) -> WindowResult:
    seconds = (w.end_ms - w.start_ms) / 1000
    rt = _freshness(rt_event, rt_arrival, w.start_ms, w.end_ms)
    pm = _freshness(pm_event, pm_commit, w.start_ms, w.end_ms)
    arrived = sum(1 for a in rt_arrival if w.start_ms <= a < w.end_ms)
    rt50, rt95, rt99 = percentiles(rt, (0.5, 0.95, 0.99))
    pm50, pm95, pm99 = percentiles(pm, (0.5, 0.95, 0.99))
    return WindowResult(
        name=w.name,
        start_ms=w.start_ms,
        end_ms=w.end_ms,
        offered_eps=w.produced_total / seconds,
        produced_events=w.produced_events,
        throughput_eps=arrived / seconds,
        decisions_rt=len(rt),
        decisions_paimon=len(pm),
        rt_p50_s=rt50,
        rt_p95_s=rt95,
        rt_p99_s=rt99,
        paimon_p50_s=pm50,
        paimon_p95_s=pm95,
        paimon_p99_s=pm99,
    )


def _series(
    start_ms: int,
    end_ms: int,
    rt_event: array[int],
    rt_arrival: array[int],
    pm_event: array[int],
    pm_commit: array[int],
) -> dict[str, list[float]]:
    """Per second of the run: decisions arriving on rt, and p50/p99 freshness by event second."""
    n = max(0, math.ceil((end_ms - start_ms) / 1000))
    arrivals = [0.0] * n
    rt_buckets: list[list[float]] = [[] for _ in range(n)]
    pm_buckets: list[list[float]] = [[] for _ in range(n)]
    for e, a in zip(rt_event, rt_arrival, strict=True):
        if start_ms <= a < end_ms:
            arrivals[(a - start_ms) // 1000] += 1
        if start_ms <= e < end_ms:
            rt_buckets[(e - start_ms) // 1000].append((a - e) / 1000)
    for e, c in zip(pm_event, pm_commit, strict=True):
        if start_ms <= e < end_ms:
            pm_buckets[(e - start_ms) // 1000].append((c - e) / 1000)
    out: dict[str, list[float]] = {"t_s": [float(i) for i in range(n)], "rt_arrivals": arrivals}
    for name, buckets in (("rt", rt_buckets), ("paimon", pm_buckets)):
        pairs = [percentiles(b, (0.5, 0.99)) for b in buckets]
        out[f"{name}_p50_s"] = [p[0] for p in pairs]
        out[f"{name}_p99_s"] = [p[1] for p in pairs]
    return out


def _cleanup(
    stack: StackSettings,
    admin: Any,
    names: list[str],
    inventory_table: str,
    base: Path,
    *,
    keep: bool,
    log: Callable[[str], None],
) -> None:
    try:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            with contextlib.suppress(Exception):  # a topic never created
                future.result()
        with cassandra_session(stack, "supply") as session:
            session.execute(f"DROP TABLE IF EXISTS {inventory_table}")
    except Exception as error:  # cleanup must not hide the run's own outcome
        log(f"cleanup: {error}")
    if not keep:
        shutil.rmtree(base, ignore_errors=True)
