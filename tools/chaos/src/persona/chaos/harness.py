"""One chaos row on the real stack, from its private scenario to its ``RowResult``.

The row: build the input and replay it; create the scenario and load the stores; start the flows,
each under the supervisor `persona run` uses (``persona.chaos.flows``); offer the main stream at a
steady rate; inject the fault once a seeded share of it (30-60%) is produced; keep offering; wait
until the flows have applied everything (the barrier), offer the closing round; drain (every flow
has durably processed its inputs to their end, so the sink has committed everything to Paimon); read
everything back and check the invariants. A supervisor that gives up fails the row.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from persona.chaos.faults import FaultContext, inject, merge_hook_env
from persona.chaos.flows import SupervisedFlows, SupervisorFactory
from persona.chaos.inputs import InputSize, build_input
from persona.chaos.invariants import Verdict, check
from persona.chaos.load import Load
from persona.chaos.observe import expected, observed, read_rt
from persona.chaos.rows import Row
from persona.chaos.scenario import ChaosScenario
from persona.chaos.table import RowResult
from persona.kafka import EndOffsets, make_producer, produce_all
from persona.localstack import StackSettings, kafka_admin, up

log = logging.getLogger(__name__)

POLL_S = 0.2


@dataclass(frozen=True)
class ChaosConfig:
    seed: int = 17
    size: InputSize = field(default_factory=InputSize)
    drain_timeout_s: float = 90.0
    keep: bool = False


def _caught_up(flows: SupervisedFlows, offsets: EndOffsets, pairs: list[tuple[str, str]]) -> bool:
    """Each (flow, topic): the flow has durably processed the topic to its end."""
    try:
        for flow, topic in pairs:
            done = flows.committed(flow)
            if any(done.get(f"{p}-{topic}", 0) < end for p, end in offsets.end(topic).items()):
                return False
    except Exception as error:  # Kafka away (a row's fault): not caught up yet
        log.debug("end offsets: %s", error)
        return False
    return True


def run_row(
    stack: StackSettings, row: Row, cfg: ChaosConfig, make_supervisor: SupervisorFactory
) -> RowResult:
    up(stack)  # a row starts on a healthy stack, whatever the row before it did to it
    scenario = ChaosScenario.new(stack, row.name, tmpfs_mib=48 if row.kind == "disk_full" else None)
    topics = scenario.topics
    admin = kafka_admin(stack)
    kafka_config = stack.kafka_security.client_config()
    data = build_input(cfg.seed, cfg.size, poison=row.poison)
    flows: SupervisedFlows | None = None
    offsets: EndOffsets | None = None
    log.info(
        "row %s: scenario %s, %d records + %d closing",
        row.name,
        scenario.tag,
        len(data.main),
        len(data.closing),
    )
    try:
        scenario.create(admin)
        want = expected(data.write_files(scenario.input_dir), scenario.input_dir, data.events)
        scenario.load_stores(data)
        flows = SupervisedFlows(
            make_supervisor,
            scenario.state_dir,
            scenario.flow_env(),
            {"enrich": merge_hook_env()} if row.moment == "mid_merge" else None,
        )
        flows.start(timeout=180)
        offsets = EndOffsets(stack.kafka_bootstrap, kafka_config)
        live = flows

        def hold_until(done: Callable[[], bool], timeout: float) -> bool:
            deadline = time.monotonic() + timeout
            while not done():
                if time.monotonic() > deadline or live.gave_up():
                    return False
                time.sleep(POLL_S)  # poll interval of the wait
            return True

        load = Load(stack.kafka_bootstrap, topics, data.main, cfg.size.rate, kafka_config)
        load.start()
        at = int(len(data.main) * random.Random(f"{cfg.seed}-{row.name}").uniform(0.3, 0.6))
        hold_until(lambda: load.produced >= at, 600)
        fault_at = time.time()
        failures: list[str] = []
        notes = [inject(row, FaultContext(stack, scenario, flows, failures))]
        # Recovery is timed from the kill itself when a flow was killed (a targeted moment may come
        # seconds after the injection began); from the injection otherwise.
        fault_at = flows.last_kill_at or fault_at
        hold_until(load.done, 900)
        failures += [f"load: {e}" for e in load.errors[:1]]
        # The closing round only after every order change is applied (see persona.chaos.inputs).
        barrier = [
            ("cdc", topics.orders_cdc),
            ("enrich", topics.order_facts),
            ("enrich", topics.behavior_events),
        ]
        drained = hold_until(lambda: _caught_up(live, offsets, barrier), cfg.drain_timeout_s)
        if drained:
            produce_all(
                make_producer(stack.kafka_bootstrap, kafka_config),
                topics.behavior_events,
                ((r.key, r.value) for r in data.closing),
            )
            drained = hold_until(
                lambda: _caught_up(live, offsets, [*barrier, ("sink", topics.segment_decisions)]),
                cfg.drain_timeout_s,
            )
        drained_s = time.time() - fault_at if drained else None
        if not drained:
            stuck = [n for n in ("cdc", "enrich", "sink") if flows.pid(n) is None]
            last = {n: flows.log_tail(n, 1) for n in ("cdc", "enrich", "sink")}
            failures.append(
                f"not drained within {cfg.drain_timeout_s:.0f}s (down: {stuck}; last log lines: {last})"
            )
        failures += [
            f"the supervisor of flow {name} gave up (exit {code}): {flows.log_tail(name, 1).strip()[:300]}"
            for name, code in flows.gave_up().items()
        ]
        flows.stop()
        rt_read = read_rt(stack.kafka_bootstrap, topics, kafka_config)
        after = [ts for _, ts in rt_read if ts >= fault_at * 1000]
        first_s = (min(after) / 1000 - fault_at) if after and row.kind not in ("none", "poison") else None
        verdict = check(
            want,
            observed(
                stack.kafka_bootstrap,
                topics,
                scenario.prefix,
                scenario.warehouse_dir,
                [m for m, _ in rt_read],
                kafka_config,
            ),
            data.stock,
            data.cases,
        )
        verdict = dataclasses.replace(verdict, failures=(*failures, *verdict.failures))
        result = RowResult(
            row.name, verdict, first_s, drained_s, flows.restarts, "; ".join(n for n in notes if n)
        )
        log.info("row %s: %s", row.name, "ok" if result.ok else "FAILED: " + " | ".join(verdict.failures))
        return result
    finally:
        if flows is not None:
            flows.stop()
        if offsets is not None:
            offsets.close()
        scenario.remove(admin, keep_files=cfg.keep)


def run_matrix(
    stack: StackSettings, rows: list[Row], cfg: ChaosConfig, make_supervisor: SupervisorFactory
) -> list[RowResult]:
    """Every row, its flows supervised by ``make_supervisor``'s supervisors; a row whose harness
    itself failed is a failed row, and the next one still runs."""
    results = []
    for row in rows:
        try:
            results.append(run_row(stack, row, cfg, make_supervisor))
        except Exception as error:
            log.exception("row %s: the harness failed", row.name)
            verdict = Verdict(0, 0, 0, 0, 0, 0, 0, failures=(f"harness error: {error!r}",))
            results.append(RowResult(row.name, verdict, None, None, 0))
    return results
