"""`persona bench`: sustained throughput and end-to-end freshness of the three flows on the stack.

One run: a private scenario (``scenario``), profiles loaded into Paimon and inventory into
Cassandra, the cdc, enrich and sink flows started as separate processes exactly as in production
(``processes``), then a producer process offering events (plus ~5% order changes) at a target rate
(``producer``), warmed up until the flows have caught up (``warmup``) and measured in windows
(``windows``). Measurement windows are chosen by event time; nothing in the flows is instrumented:

* event → ``marketing_segments_rt``: the private rt topic uses ``LogAppendTime``, so every message
  carries the broker's time of arrival; minus the decision's ``event_time``.
* event → committed Paimon snapshot: every snapshot of ``segment_decisions`` (one row per
  decision) is read incrementally (the rows it added); its commit time minus each row's
  ``event_time``.
* throughput: decisions that arrived on the rt topic per second of the window (one per behavior
  event; order changes, ~5% more records, produce none).
* consumer lag: Kafka end offsets minus what each flow has durably processed (its recovery store).
* CPU and RSS of each flow (and of Kafka, Cassandra and the bench's own producer), and the whole
  machine's CPU, from /proc every two seconds (``monitor``).
* the floor: after the flows stop, a bare consumer drains the same input topics from the
  beginning with no processing.

The last three are read back after the run (``freshness``) into a ``BenchReport`` (``report``).
The flows' own metrics, scraped by the stack's Prometheus under the run's label, are another view of
the same run: the report names their scrape targets, and ``prom_reader`` reads them back
(``persona bench --plots-from prometheus``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from dataclasses import asdict

from persona.benchkit.config import BenchConfig
from persona.benchkit.core_plan import PinnedProcesses
from persona.benchkit.freshness import measure_floor, read_paimon_commits, read_rt, series, window_result
from persona.benchkit.monitor import Monitor
from persona.benchkit.processes import RunFlows, give_enrich_a_core
from persona.benchkit.producer import ProducerConfig, ProducerProcess, produced_topics
from persona.benchkit.prom_series import RUN_LABEL, RunTargets
from persona.benchkit.report import BenchReport, machine_info
from persona.benchkit.scenario import Scenario
from persona.benchkit.stats import highest_held_rate
from persona.benchkit.windows import drain, drive
from persona.kafka import EndOffsets
from persona.localstack import StackSettings, kafka_admin, up
from persona.paimon import PaimonWarehouse

log = logging.getLogger(__name__)


def run_bench(cfg: BenchConfig) -> BenchReport:
    """One run on the local stack (started if it is not up), from its private scenario to its
    report; the scenario is removed whatever happens (its files stay with ``cfg.keep``)."""
    stack = StackSettings.from_env(os.environ)
    up(stack)
    scenario = Scenario.new(stack)
    topics = scenario.topics
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    log.info(
        "run %s: %s customers, %s SKUs, topics %s*, state %s",
        scenario.tag,
        f"{cfg.customers:,}",
        f"{cfg.skus:,}",
        scenario.prefix,
        scenario.base,
    )
    admin = kafka_admin(stack)
    kafka_config = scenario.kafka_config()
    producer: ProducerProcess | None = None
    flows: RunFlows | None = None
    pinned: PinnedProcesses | None = None
    try:
        scenario.create(admin, cfg.partitions)
        gen_config = scenario.generator_config(cfg)
        # The producer builds its record pool while the stores load.
        producer = ProducerProcess(
            ProducerConfig(stack.kafka_bootstrap, topics, gen_config, cfg.pool_size, scenario.scratch_topic)
        )
        producer.process.start()
        load = scenario.load_stores(gen_config)
        log.info(
            "loaded %s profiles in %.1fs, %s SKUs in %.1fs",
            f"{load['profiles']:,.0f}",
            load["profiles_s"],
            f"{load['skus']:,.0f}",
            load["skus_s"],
        )

        producer.ready.wait(300)
        ceiling = producer.measure_ceiling(cfg.ceiling_s)
        log.info(
            "producer ceiling (one process, scratch topic, nothing else running): %s records/s",
            f"{ceiling:,.0f}",
        )

        flows = RunFlows(
            scenario.state_dir,
            scenario.flow_env(cfg),
            cfg.enrich_processes,
            scrape_labels={RUN_LABEL: scenario.tag},
        )
        targets = RunTargets(scenario.tag, flows.scrape_addresses())
        t = time.monotonic()
        flows.start(timeout=300)
        ready_s = time.monotonic() - t
        log.info(
            "flows ready in %.1fs (enrich loaded its profiles); logs in %s",
            ready_s,
            scenario.state_dir / "logs",
        )
        if cfg.enrich_core:
            pinned = give_enrich_a_core(stack, flows, producer.process.pid)

        offsets = EndOffsets(stack.kafka_bootstrap, kafka_config)
        monitor = Monitor(flows, offsets, topics, producer, stack)
        monitor.start()
        load_started_ms = int(time.time() * 1000)
        windows, settled_s = drive(cfg, producer, flows, monitor)
        # Keep the load on until every event of the last window is in Paimon (or the deadline).
        drain(cfg, flows, offsets, topics)
        producer.set_rate(-1)
        monitor.stop()
        run_end_ms = int(time.time() * 1000)
        producer.stop()
        flows.stop()
        offsets.close()
        if pinned is not None:
            # The floor is measured with nothing else running: on every core, as before the plan.
            pinned.restore()

        log.info("reading back marketing_segments_rt and the segment_decisions snapshots…")
        rt_event, rt_arrival = read_rt(stack.kafka_bootstrap, topics.marketing_segments_rt, kafka_config)
        pm_event, pm_commit = read_paimon_commits(
            PaimonWarehouse(scenario.warehouse_dir), "segment_decisions"
        )
        results = [window_result(w, rt_event, rt_arrival, pm_event, pm_commit) for w in windows]
        per_second = series(load_started_ms, run_end_ms, rt_event, rt_arrival, pm_event, pm_commit)
        floor_eps, floor_records = measure_floor(
            stack.kafka_bootstrap, list(produced_topics(topics)), kafka_config
        )
        log.info(
            "floor: a bare consumer drained %s input records at %s/s",
            f"{floor_records:,}",
            f"{floor_eps:,.0f}",
        )
        held = (
            highest_held_rate([r.step() for r in results], p99_paimon_limit_s=cfg.p99_paimon_limit_s)
            if cfg.step_rates
            else None
        )
        return BenchReport(
            tag=scenario.tag,
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
            series=per_second,
            profile_path=str(cfg.profile) if cfg.profile else None,
            settled_s=settled_s,
            load_started_ms=load_started_ms,
            run_end_ms=run_end_ms,
            scrape_targets=targets.to_json(),
        )
    finally:
        if producer is not None and producer.process.is_alive():
            producer.stop()
        if flows is not None:
            flows.stop()
        if pinned is not None:
            pinned.restore()
        scenario.remove(admin, keep_files=cfg.keep)
