"""`persona bench --plots-from prometheus` on the real stack: the three flows as processes with the
bench's scrape label, events through them in two batches, then the run's series read back from the
stack's Prometheus through ``prom_reader`` and checked against instant queries and what was sent; the
timeline plot drawn from them; and the reader's errors when there is nothing to read."""

from __future__ import annotations

import json
import socket
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from pipeline_support import Scenario, free_port_block, load_stores, wait_for

from persona.benchkit.plots import plot_report
from persona.benchkit.prom_reader import read_run
from persona.benchkit.prom_series import RUN_LABEL, RunTargets
from persona.datagen import DataGenerator, GeneratorConfig
from persona.kafka import make_producer, produce_all
from persona.localstack import StackError, StackSettings
from persona.localstack.prometheus import query, target_file
from persona.localstack.runner import FlowProcess

pytestmark = pytest.mark.integration

# Prometheus discovers a target file within file_sd's refresh (10 s) and scrapes every 5 s; the flows
# commit every second here. Generous: a deadline on a loaded machine, not a timing.
TIMEOUT = 240.0
FLOWS = ("cdc", "enrich", "sink")
SINKS = ("rt", "paimon")


def _total(promql: str, stack: StackSettings) -> float | None:
    samples = query(stack, promql)
    return sum(s.value for s in samples) if samples else None


def test_a_runs_series_read_from_prometheus_match_what_was_sent_and_plot(
    scenario: Scenario, tmp_path: Path
) -> None:
    s = scenario
    prom = s.stack
    tag = uuid.uuid4().hex[:8]
    events_ms = int(time.time() * 1000) - 120_000
    gen = DataGenerator(GeneratorConfig(seed=5, customers=30, skus=20, order_fraction=0.1))
    load_stores(gen, s, events_ms)
    env = {**s.env, "PERSONA_METRICS_PORT": str(free_port_block()), "PERSONA_METRICS_HOST": "127.0.0.1"}
    flows = [
        FlowProcess(name, s.state_dir, env, snapshot_seconds=1, scrape_labels={RUN_LABEL: tag})
        for name in FLOWS
    ]
    targets = RunTargets(tag, {f.name: (address,) for f in flows if (address := f.scrape_address())})
    start_ms = int(time.time() * 1000)
    for f in flows:
        f.start()
    try:
        for f in flows:
            written = json.loads(target_file(prom, f.name).read_text())
            assert written[0]["labels"] == {RUN_LABEL: tag, "flow": f.name}
        # Enough decisions for the freshness histogram, which records one in FRESHNESS_SAMPLE_EVERY.
        records = gen.records(1500, events_ms, 20)
        events = [(r.key, r.value) for r in records if r.kind == "event"]
        orders = [(r.key, r.value) for r in records if r.kind == "order"]
        events_in = (
            f"persona_events_in_total{targets.selector(flow='enrich', topic=s.topics.behavior_events)}"
        )
        producer = make_producer(prom.kafka_bootstrap)
        # Two batches: a rate needs the counters (and the histogram's buckets) to have been scraped
        # before they grew; the first batch makes them exist, the second is their increase.
        first, first_orders = len(events) // 3, len(orders) // 3
        orders_in = f"persona_events_in_total{targets.selector(flow='cdc', topic=s.topics.orders_cdc)}"
        produce_all(producer, s.topics.behavior_events, events[:first])
        produce_all(producer, s.topics.orders_cdc, orders[:first_orders])
        wait_for(
            f"the first {first} events and {first_orders} orders in, in Prometheus",
            lambda: (
                True if (_total(events_in, prom), _total(orders_in, prom)) == (first, first_orders) else None
            ),
            TIMEOUT,
            flows,
        )
        counts = {
            sink: f"persona_segment_freshness_seconds_count{targets.selector(sink=sink)}" for sink in SINKS
        }
        recorded = {
            sink: wait_for(
                f"freshness of sink={sink} in Prometheus",
                lambda count=count: total if (total := _total(count, prom) or 0) > 0 else None,
                TIMEOUT,
                flows,
            )
            for sink, count in counts.items()
        }
        produce_all(producer, s.topics.behavior_events, events[first:])
        produce_all(producer, s.topics.orders_cdc, orders[first_orders:])
        wait_for(
            f"all {len(events)} events in, in Prometheus",
            lambda: True if _total(events_in, prom) == len(events) else None,
            TIMEOUT,
            flows,
        )
        for sink, count in counts.items():
            wait_for(
                f"more freshness samples of sink={sink} in Prometheus",
                lambda sink=sink, count=count: True if (_total(count, prom) or 0) > recorded[sink] else None,
                TIMEOUT,
                flows,
            )
        lag = f"persona_consumer_lag{targets.selector()}"

        def caught_up() -> bool | None:
            got = query(prom, lag)
            return (
                True
                if {x.labels["flow"] for x in got} == set(FLOWS) and all(x.value == 0 for x in got)
                else None
            )

        wait_for("every flow's lag at 0 in Prometheus", caught_up, TIMEOUT, flows)
        end_ms = int(time.time() * 1000)
    finally:
        for f in flows:
            f.stop()

    read = read_run(prom, targets, start_ms, end_ms, [("run", start_ms, end_ms)])
    step = read["step_s"]
    series = read["series"]
    # Per flow, the run's three processes and no other run's (every flow of every run has a lag).
    for name in ("lag_records", "events_in_per_s", "cpu_percent", "rss_mib"):
        assert {x["labels"]["flow"] for x in series[name]} == set(FLOWS), name
    for name, found in series.items():
        for x in found:
            assert all(0 <= t <= (end_ms - start_ms) / 1000 + 1e-6 for t in x["t_s"]), name
            assert all(b - a == pytest.approx(step) for a, b in zip(x["t_s"], x["t_s"][1:], strict=False)), (
                name
            )
    # Lag came down to 0 for every flow by the end, as the instant query said.
    assert all(x["values"][-1] == 0 for x in series["lag_records"])
    # The events arrived within the span: enrich read them at a rate above 0 at some step, and
    # decisions were made.
    (enrich_in,) = [x for x in series["events_in_per_s"] if x["labels"]["flow"] == "enrich"]
    assert max(v or 0 for v in enrich_in["values"]) > 0
    assert max(v or 0 for x in series["decisions_per_s"] for v in x["values"]) > 0
    # Freshness quantiles of both sinks, p50 never above p99; these events are two minutes old.
    for sink in SINKS:
        (p50,) = series[f"{sink}_p50_s"]
        (p99,) = series[f"{sink}_p99_s"]
        pairs = [
            (a, b)
            for a, b in zip(p50["values"], p99["values"], strict=True)
            if a is not None and b is not None
        ]
        assert pairs, f"no freshness quantiles of sink={sink}"
        assert all(a <= b for a, b in pairs)
        assert all(30 <= b <= 300 for _, b in pairs), (sink, pairs)
        assert read["windows"][0][f"{sink}_p99_s"] is not None
    assert all(v > 0 for x in series["rss_mib"] for v in x["values"] if v is not None)
    # The run's selector counts every order cdc read, and another run's selector finds none of them.
    assert _total(orders_in, prom) == len(orders)
    other = RunTargets("not" + tag, targets.instances)
    assert _total(f"persona_events_in_total{other.selector()}", prom) is None
    assert read["queries"]["lag_records"] == f"sum by (flow) (persona_consumer_lag{targets.selector()})"

    report = {
        "started_at": "test",
        "machine": {"cores": 2},
        "load_started_ms": start_ms,
        "series": {"t_s": [], "rt_p99_s": [], "paimon_p99_s": []},
        "windows": [
            {
                "start_ms": start_ms,
                "end_ms": end_ms,
                "offered_events_eps": len(events) / ((end_ms - start_ms) / 1000),
                "throughput_eps": len(events) / ((end_ms - start_ms) / 1000),
                "paimon_p99_s": read["windows"][0]["paimon_p99_s"],
            }
        ],
        "floor_eps": 1.0,
        "prometheus": read,
    }
    paths = plot_report(report, tmp_path / "plots", "bench-test", "prometheus")
    timeline = tmp_path / "plots" / "bench-test-timeline.png"
    assert timeline in paths and timeline.stat().st_size > 0

    # Nothing of a run that never ran: the error names the (first) query that came back empty.
    with pytest.raises(
        StackError, match=r"no samples of rt_p50_s for bench run notthere .*histogram_quantile"
    ):
        read_run(prom, RunTargets("notthere", targets.instances), start_ms, end_ms)


def test_an_unreachable_prometheus_is_a_clear_error(stack: StackSettings) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = int(probe.getsockname()[1])
    nowhere = replace(stack, prometheus_port=closed)
    now_ms = int(time.time() * 1000)
    with pytest.raises(StackError, match=f"Prometheus at http://127.0.0.1:{closed} is unreachable"):
        read_run(nowhere, RunTargets("x", {"enrich": ("127.0.0.1:1",)}), now_ms - 60_000, now_ms)
