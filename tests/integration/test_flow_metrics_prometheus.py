"""The flows' metrics on the real stack, read back through the stack's Prometheus: the three flows as
processes (each serving /metrics, /healthz and /readyz on its own port, each a file_sd target the
runner wrote), events through them, and the contract's series queried over Prometheus's HTTP API."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest
from pipeline_support import Scenario, free_port_block, load_stores, wait_for

from persona.datagen import DataGenerator, GeneratorConfig
from persona.kafka import make_producer, produce_all
from persona.localstack.prometheus import active_targets, query, target_file
from persona.localstack.runner import FlowProcess
from persona.localstack.settings import StackSettings

pytestmark = pytest.mark.integration

# Prometheus discovers a target file within file_sd's refresh (10 s), scrapes every 5 s; the flows
# commit every second here. Generous: a deadline on a loaded machine, not a timing.
TIMEOUT = 240.0


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def _value(stack_query: Callable[[], list], predicate: Callable[[float], bool]) -> float | None:
    samples = stack_query()
    total = sum(s.value for s in samples)
    return total if samples and predicate(total) else None


def _target_health(prom: StackSettings, port: int) -> str:
    """What Prometheus last saw of the target on ``port``, for a failure's message."""
    instance = f"127.0.0.1:{port}"
    seen = [t for t in active_targets(prom) if t["labels"].get("instance") == instance]
    if not seen:
        return f"{instance} is not an active target"
    target = seen[0]
    return f"{instance} health {target['health']}, last error {target['lastError']!r}"


def test_flow_metrics_reach_prometheus_and_health_answers(scenario: Scenario) -> None:
    s = scenario
    start_ms = int(time.time() * 1000) - 60_000
    gen = DataGenerator(GeneratorConfig(seed=5, customers=30, skus=20, order_fraction=0.1))
    load_stores(gen, s, start_ms)
    base = free_port_block()
    env = {**s.env, "PERSONA_METRICS_PORT": str(base), "PERSONA_METRICS_HOST": "127.0.0.1"}
    flows = [FlowProcess(name, s.state_dir, env, snapshot_seconds=1) for name in ("cdc", "enrich", "sink")]
    ports = {f.name: f.metrics_port() for f in flows}
    assert ports == {"cdc": base, "enrich": base + 1, "sink": base + 2}
    for f in flows:
        f.start()
    try:
        for f in flows:
            target = json.loads(target_file(s.stack, f.name).read_text())
            assert target == [{"targets": [f"127.0.0.1:{ports[f.name]}"], "labels": {"flow": f.name}}]
        for name, port in ports.items():
            wait_for(
                f"{name}'s /healthz",
                lambda port=port: True if _get(f"http://127.0.0.1:{port}/healthz")[0] == 200 else None,
                TIMEOUT,
                flows,
            )

        records = gen.records(300, start_ms, 100)
        events = [(r.key, r.value) for r in records if r.kind == "event"]
        orders = [(r.key, r.value) for r in records if r.kind == "order"]
        producer = make_producer(s.stack.kafka_bootstrap)
        produce_all(producer, s.topics.behavior_events, events)
        produce_all(producer, s.topics.orders_cdc, orders)

        topics = s.topics
        prom = s.stack

        def promql(expr: str) -> Callable[[], list]:
            return lambda: query(prom, expr)

        # Every event read by enrich, counted by the flow and scraped by Prometheus.
        events_in = f'persona_events_in_total{{flow="enrich",topic="{topics.behavior_events}"}}'
        wait_for(
            f"{len(events)} events in, in Prometheus",
            lambda: _value(promql(events_in), lambda v: v == len(events)),
            TIMEOUT,
            flows,
        )
        wait_for(
            "cdc's orders in, in Prometheus",
            lambda: _value(
                promql(f'persona_events_in_total{{flow="cdc",topic="{topics.orders_cdc}"}}'),
                lambda v: v == len(orders),
            ),
            TIMEOUT,
            flows,
        )
        # Freshness of both sinks: decisions were made (rt) and committed to Paimon.
        for sink, flow in (("rt", "enrich"), ("paimon", "sink")):
            wait_for(
                f"freshness of sink={sink} in Prometheus",
                lambda sink=sink, flow=flow: _value(
                    promql(f'persona_segment_freshness_seconds_count{{sink="{sink}",flow="{flow}"}}'),
                    lambda v: v > 0,
                ),
                TIMEOUT,
                flows,
            )
        # 300 s is a bucket bound (the alert's threshold); these events are about a minute old.
        # (prometheus_client writes the bound as "300.0"; Prometheus 2 keeps label text as it is.)
        # Each check below polls: one failed scrape (a slow answer on a loaded machine) marks all of a
        # target's series stale until the next scrape, so a single instant query can find none.
        bucket_expr = 'persona_segment_freshness_seconds_bucket{sink="paimon",le=~"300(.0)?"}'
        wait_for(
            lambda: "the paimon freshness bucket le=300 above 0; " + _target_health(prom, ports["sink"]),
            lambda: True if (buckets := query(prom, bucket_expr)) and buckets[0].value > 0 else None,
            TIMEOUT,
            flows,
        )
        # Lag per partition of enrich's events topic (2 partitions), down to 0 once it caught up.
        lag_expr = f'persona_consumer_lag{{flow="enrich",topic="{topics.behavior_events}"}}'
        lags = wait_for(
            lambda: (
                "enrich's lag on both partitions to be 0 in Prometheus; "
                + _target_health(prom, ports["enrich"])
            ),
            lambda: (
                samples
                if len(samples := query(prom, lag_expr)) == 2 and all(x.value == 0 for x in samples)
                else None
            ),
            TIMEOUT,
            flows,
        )
        assert {x.labels["partition"] for x in lags} == {"0", "1"}
        for name, port in ports.items():
            wait_for(
                f"{name}'s /readyz",
                lambda port=port: True if _get(f"http://127.0.0.1:{port}/readyz")[0] == 200 else None,
                TIMEOUT,
                flows,
            )
        _, body = _get(f"http://127.0.0.1:{ports['sink']}/readyz")
        assert json.loads(body)["ready"] is True
        # The contract's failure counter exists at 0 per table from the start.
        failures_expr = f'persona_paimon_commit_failures_total{{instance="127.0.0.1:{ports["sink"]}"}}'
        failures = wait_for(
            lambda: (
                "the sink's two commit-failure series in Prometheus; " + _target_health(prom, ports["sink"])
            ),
            lambda: samples if len(samples := query(prom, failures_expr)) == 2 else None,
            TIMEOUT,
            flows,
        )
        assert all(x.value == 0 for x in failures), failures
    finally:
        for f in flows:
            f.stop()
    # Stopped on purpose: no longer a target (not "down").
    assert not any(target_file(s.stack, f.name).exists() for f in flows)
