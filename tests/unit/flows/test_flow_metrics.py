"""The flows' metrics and health: lag, readiness, DLQ reason labels, sampling, the names and labels
the exposition carries (through the real OpenTelemetry SDK and exporter), and the HTTP endpoint."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from decision_samples import sample_audit
from prometheus_client import CollectorRegistry, generate_latest

from persona.contracts import DEFAULT_TIME_WINDOW, CandidateSku, DecisionAudit, Err, parse_behavior_event
from persona.flows.common.lag import LagWatcher, consumer_lag, readiness, recovery_dir_of
from persona.flows.common.metrics import FRESHNESS_SAMPLE_EVERY, FlowMetrics, StrideSample, dlq_reason
from persona.flows.common.observability import _lag_observations, meter_provider, serve
from persona.flows.common.recovery import CommittedInput
from persona.flows.enrich.instrumentation import EnrichMetrics, decision_counts
from persona.localstack.runner import Cluster, FlowProcess, metrics_port


def test_lag_is_end_minus_committed_per_partition_and_the_whole_partition_before_any_commit() -> None:
    committed = {"0-events": 90, "1-events": 120, "0-facts": 7}
    ends = {"events": {0: 100, 1: 120, 2: 30}, "facts": {0: 5}}
    assert consumer_lag(committed, ends) == {
        ("events", 0): 10,
        ("events", 1): 0,
        ("events", 2): 30,  # nothing committed yet: all of it
        ("facts", 0): 0,  # committed past a (compacted, re-created) end: never negative
    }


def test_a_topic_name_with_dashes_is_keyed_by_its_first_dash_only() -> None:
    assert consumer_lag({"3-my-topic": 4}, {"my-topic": {3: 10}}) == {("my-topic", 3): 6}


def test_readiness_needs_a_measurement_an_epoch_and_lag_at_most_the_threshold() -> None:
    done = CommittedInput(epoch=4, offsets={"0-t": 10})
    assert not readiness(None, None, 5000).ready
    assert "not measured" in readiness(None, None, 5000).reason
    no_epoch = readiness(CommittedInput(), {("t", 0): 0}, 5000)
    assert not no_epoch.ready and "no epoch" in no_epoch.reason
    behind = readiness(done, {("t", 0): 5001, ("t", 1): 3}, 5000)
    assert not behind.ready and "5001 on t[0]" in behind.reason
    assert readiness(done, {("t", 0): 5000}, 5000).ready
    assert readiness(done, {}, 0).ready
    failed = readiness(done, {("t", 0): 0}, 5000, error="KafkaException: timed out")
    assert not failed.ready and "timed out" in failed.reason


def test_the_recovery_directory_is_the_one_bytewax_run_was_given() -> None:
    argv = ["bytewax/run.py", "persona.flows.sink:build_flow()", "-r", "/state/rec", "-s", "10"]
    assert recovery_dir_of(argv, {}) == Path("/state/rec")
    assert recovery_dir_of(["run.py", "f()", "--recovery-directory=/x"], {}) == Path("/x")
    assert recovery_dir_of(["run.py", "f()"], {"BYTEWAX_RECOVERY_DIRECTORY": "/y"}) == Path("/y")
    assert recovery_dir_of(["run.py", "f()", "-s", "5"], {}) is None


def _reason(raw: bytes) -> str:
    result = parse_behavior_event(raw, DEFAULT_TIME_WINDOW, int(time.time() * 1000))
    assert isinstance(result, Err)
    return result.reason


@pytest.mark.parametrize(
    ("reason", "label"),
    [
        (_reason(b"{"), "malformed"),
        (_reason(b'{"event_id":"x"}'), "malformed"),
        (
            _reason(b'{"event_id":"e","user_id":1,"event_type":"view","sku_id":"s","event_time":1}'),
            "epoch_seconds",
        ),
        (_reason(b"x" * 2_000_000), "too_large"),
        ("behavior_event: unprocessable: KeyError: 'x'", "unprocessable"),
        ("unwritable: ArrowInvalid: decimal", "unwritable"),
        ("order_change: amount_scale: total_amount 12.345 has 3 decimals", "amount_scale"),
    ],
)
def test_dlq_reason_labels_come_from_a_bounded_set(reason: str, label: str) -> None:
    assert dlq_reason(reason) == label


def test_the_stride_sample_is_every_kth_item_of_the_stream_whatever_the_batches() -> None:
    stream = list(range(1000))
    sample = StrideSample(16)
    taken: list[int] = []
    start = 0
    for size in (1, 5, 16, 17, 300, 0, 33, 628):
        taken.extend(sample.take(stream[start : start + size]))
        start += size
    assert start == len(stream)
    assert taken == stream[::16]


def _audit(
    segment: str, candidates: tuple[CandidateSku, ...], recommendation: tuple[str, ...]
) -> DecisionAudit:
    return sample_audit(
        event_id="e",
        event_time_ms=1_700_000_000_000,
        customer_id=1,
        profile_snapshot=None,
        candidates=candidates,
        rule="r",
        segment=segment,
        recommendation=recommendation,
        score=None,
        decided_at_ms=1_700_000_001_000,
    )


def test_decision_counts_by_segment_and_candidates_suppressed_for_stock() -> None:
    audits = [
        _audit("ACTIVE", (CandidateSku("A", 3), CandidateSku("B", 0), CandidateSku("C", None)), ("sku:A",)),
        _audit("ACTIVE", (CandidateSku("A", 3),), ("sku:A",)),
        _audit("DORMANT", (CandidateSku("B", 0), CandidateSku("D", -1)), ()),
    ]
    counts, suppressed = decision_counts(audits)
    assert counts == {("ACTIVE", "v1"): 2, ("DORMANT", "v1"): 1}
    assert suppressed == 4  # B twice, D, and C: unknown stock is never recommended either


def _exposition(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def test_the_exposition_has_the_contract_names_and_labels() -> None:
    registry = CollectorRegistry(auto_describe=False)
    provider = meter_provider(registry)
    metrics = FlowMetrics("enrich", provider.get_meter("test"))
    enrich = EnrichMetrics(metrics)
    metrics.events_in("behavior_events", 5)
    metrics.events_out({"marketing_segments_rt": 4})
    metrics.dead_letters("behavior_events", {"malformed": 1})
    now_ms = 1_700_000_400_000
    # 2 * FRESHNESS_SAMPLE_EVERY decisions 400 s after their events: the sample keeps 2 of them, both
    # above the 300 s bound; the next (enrich's) decision is sampled too.
    metrics.freshness("rt", now_ms, [now_ms - 400_000] * (2 * FRESHNESS_SAMPLE_EVERY))
    enrich.decided([_audit("ACTIVE", (CandidateSku("B", 0),), ())], now_ms)

    class Shard:  # what the enrich gauges read of a CustomerShard
        def __init__(self) -> None:
            self.customers = {1: None, 2: None}
            self.snapshot_bytes = 10
            self.waiting = [None, None, None]

    enrich.shards.append(Shard())  # type: ignore[arg-type]
    text = _exposition(registry)
    assert 'persona_enrich_waiting_decisions{flow="enrich"} 3.0' in text
    assert 'persona_enrich_state_customers{flow="enrich"} 2.0' in text
    assert 'persona_events_in_total{flow="enrich",topic="behavior_events"} 5.0' in text
    assert 'persona_events_out_total{flow="enrich",topic="marketing_segments_rt"} 4.0' in text
    assert 'persona_events_dlq_total{flow="enrich",reason="malformed",topic="behavior_events"} 1.0' in text
    assert 'persona_segment_freshness_seconds_bucket{flow="enrich",le="300.0",sink="rt"} 0.0' in text
    assert 'persona_segment_freshness_seconds_bucket{flow="enrich",le="600.0",sink="rt"} 3.0' in text
    assert 'persona_decisions_total{flow="enrich",logic_version="v1",segment="ACTIVE"} 1.0' in text
    assert 'persona_recommendations_suppressed_total{flow="enrich"} 1.0' in text
    assert 'persona_cassandra_read_errors_total{flow="enrich"} 0.0' in text
    assert "# TYPE persona_segment_freshness_seconds histogram" in text
    assert "# TYPE persona_process_cpu_seconds_total counter" in text
    assert "persona_process_resident_memory_bytes{flow=" in text
    assert "otel_scope" not in text and "target_info" not in text


def test_metrics_off_records_nothing() -> None:
    metrics = FlowMetrics("cdc", None)
    metrics.events_in("orders_cdc", 3)
    metrics.freshness("rt", 0, [0])
    assert not metrics.enabled


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_endpoint_serves_metrics_liveness_and_readiness_with_its_reason() -> None:
    registry = CollectorRegistry(auto_describe=False)
    metrics = FlowMetrics("sink", meter_provider(registry).get_meter("test"))
    metrics.events_in("segment_decisions", 2)
    state = {"lag": 9000}

    def ready():  # type: ignore[no-untyped-def]
        return readiness(CommittedInput(1, {}), {("segment_decisions", 0): state["lag"]}, 5000)

    server = serve("127.0.0.1", 0, registry, ready)
    assert server is not None
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert _get(base + "/healthz")[0] == 200
        status, body = _get(base + "/readyz")
        assert status == 503
        assert json.loads(body) == {
            "ready": False,
            "reason": "lag 9000 on segment_decisions[0] is above 5000",
        }
        state["lag"] = 0
        status, body = _get(base + "/readyz")
        assert status == 200 and json.loads(body)["ready"] is True
        status, body = _get(base + "/metrics")
        assert status == 200
        assert b'persona_events_in_total{flow="sink",topic="segment_decisions"} 2.0' in body
        assert _get(base + "/nope")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_flows_started_here_get_a_port_each_from_the_base() -> None:
    assert [metrics_port(n, 9464) for n in ("cdc", "enrich", "sink")] == [9464, 9465, 9466]
    assert metrics_port("enrich", 0) == 0
    env = {"PERSONA_METRICS_PORT": "9000"}
    assert FlowProcess("enrich", Path("/s"), env).metrics_port() == 9001
    # A container's single flow serves on the port itself.
    assert FlowProcess("enrich", Path("/s"), env, port_per_flow=False).metrics_port() == 9000
    # Processes of an enrich cluster on one host: each its own port, past the single flows' ones.
    cluster = ("127.0.0.1:2101", "127.0.0.1:2102")
    ports = [
        FlowProcess("enrich", Path("/s"), env, cluster=Cluster(cluster, i)).metrics_port() for i in (0, 1)
    ]
    assert ports == [9001, 9004]
    # In pods, every process serves on the port itself.
    assert (
        FlowProcess(
            "enrich", Path("/s"), env, cluster=Cluster(cluster, 1), port_per_flow=False
        ).metrics_port()
        == 9000
    )


def test_a_taken_port_is_logged_not_fatal() -> None:
    registry = CollectorRegistry(auto_describe=False)
    first = serve("127.0.0.1", 0, registry, lambda: readiness(None, None, 0))
    assert first is not None
    try:
        assert serve("127.0.0.1", first.server_address[1], registry, lambda: readiness(None, None, 0)) is None
    finally:
        first.shutdown()
        first.server_close()


def _sample(registry: CollectorRegistry, name: str, labels: dict[str, str]) -> float | None:
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


def test_a_cumulative_counter_adds_from_many_threads_without_losing_a_count_and_exports_as_a_counter() -> (
    None
):
    import threading

    registry = CollectorRegistry(auto_describe=False)
    metrics = FlowMetrics("enrich", meter_provider(registry).get_meter("test"))
    metrics.events_in("t", 0)  # no count: no series
    metrics.dead_letters("t", {"malformed": 0})  # a series at 0, as the flows make before the first
    adders = [
        threading.Thread(target=lambda: [metrics.events_in("t", 3) for _ in range(2000)]) for _ in range(4)
    ]
    for adder in adders:
        adder.start()
    for adder in adders:
        adder.join()
    assert _sample(registry, "persona_events_in_total", {"flow": "enrich", "topic": "t"}) == 4 * 2000 * 3
    assert (
        _sample(registry, "persona_events_dlq_total", {"flow": "enrich", "topic": "t", "reason": "malformed"})
        == 0
    )
    exposition = generate_latest(registry).decode()
    assert "# TYPE persona_events_in_total counter" in exposition
    metrics.events_in("t", 1)
    assert _sample(registry, "persona_events_in_total", {"flow": "enrich", "topic": "t"}) == 24001


def test_the_lag_gauge_shows_the_last_measurement_and_nothing_while_measuring_fails() -> None:
    registry = CollectorRegistry(auto_describe=False)
    metrics = FlowMetrics("sink", meter_provider(registry).get_meter("test"))
    answers: list[object] = [CommittedInput(3, {"0-segment_decisions": 15}), OSError("Kafka unreachable")]

    def read_committed() -> CommittedInput:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    watcher = LagWatcher(read_committed, lambda: {"segment_decisions": {0: 20}})
    assert metrics.meter is not None
    metrics.meter.create_observable_gauge("persona_consumer_lag", [_lag_observations(metrics, watcher)])
    series = 'persona_consumer_lag{flow="sink",partition="0",topic="segment_decisions"}'
    watcher.measure()
    assert f"{series} 5.0" in _exposition(registry)
    watcher.measure()  # fails: the 5 it measured before is not current any more
    assert watcher.state.error == "OSError: Kafka unreachable"
    assert "persona_consumer_lag{" not in _exposition(registry)
