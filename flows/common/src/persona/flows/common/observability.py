"""A flow process's metrics and health endpoint: OpenTelemetry's Prometheus exporter, served with
``/healthz`` and ``/readyz`` on one port (``PERSONA_METRICS_PORT``, 9464 in a pod).

* ``GET /metrics``: the OpenTelemetry SDK's metrics in Prometheus's text format (the exporter's
  collector in a registry of its own: no client-library defaults beside persona's names).
* ``GET /healthz``: 200 while the process serves at all (liveness).
* ``GET /readyz``: 200 once the flow has completed an epoch and no input partition lags more than
  ``PERSONA_READY_MAX_LAG`` records; 503 otherwise, with ``{"ready": false, "reason": ...}``.

``start_observability`` is called by a flow's factory in its own process (never by a test that gives
the flow its own source); a port that cannot be bound is logged and the flow runs without it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from persona.flows.common.lag import LagWatcher, Readiness, readiness, recovery_dir_of
from persona.flows.common.metrics import HISTOGRAM_BUCKETS, FlowMetrics
from persona.flows.common.recovery import CommittedInputReader
from persona.flows.common.spec import FlowSpec
from persona.kafka import EndOffsets
from persona.settings import PipelineSettings

log = logging.getLogger(__name__)


def meter_provider(registry: CollectorRegistry) -> MeterProvider:
    """OpenTelemetry metrics exported to ``registry`` in Prometheus's format: persona's histogram
    buckets, no exemplars (they sample the trace context on every record, and there are no traces),
    no ``target_info``/scope labels (the series carry exactly the contract's labels)."""
    reader = PrometheusMetricReader(disable_target_info=True, scope_info_enabled=False, registry=registry)
    views = [
        View(instrument_name=name, aggregation=ExplicitBucketHistogramAggregation(list(buckets)))
        for name, buckets in HISTOGRAM_BUCKETS.items()
    ]
    return MeterProvider(
        metric_readers=[reader],
        views=views,
        exemplar_filter=AlwaysOffExemplarFilter(),
        resource=Resource.create({"service.name": "persona"}),
        shutdown_on_exit=False,
    )


@dataclass
class Observability:
    """What ``start_observability`` started: the metrics to record into, and how ready the flow is."""

    metrics: FlowMetrics
    ready: Callable[[], Readiness]


def start_observability(spec: FlowSpec, settings: PipelineSettings) -> Observability:
    """The flow process's metrics, its lag measurement and its HTTP endpoint, per its settings."""
    if settings.metrics_port == 0:
        return Observability(FlowMetrics(spec.name, None), lambda: Readiness(True, "no endpoint"))
    registry = CollectorRegistry(auto_describe=False)
    provider = meter_provider(registry) if settings.metrics_enabled else None
    metrics = FlowMetrics(spec.name, None if provider is None else provider.get_meter(f"persona.{spec.name}"))
    recovery_dir = recovery_dir_of(sys.argv, os.environ)
    ready: Callable[[], Readiness]
    if recovery_dir is None:
        # No recovery store, no durable progress to compare: ready as soon as it is live.
        def ready() -> Readiness:
            return Readiness(True, "no recovery store: no lag to measure")

    else:
        topics = list(spec.inputs(settings.topics))
        ends = EndOffsets(settings.kafka_bootstrap, settings.kafka_security.client_config())

        # Read by a child process: Bytewax writes the store through its own SQLite (see the reader).
        read_committed = CommittedInputReader(recovery_dir, spec.input_step_id)
        watcher = LagWatcher(read_committed, lambda: {topic: ends.end(topic) for topic in topics}).start()
        if metrics.meter is not None:
            metrics.meter.create_observable_gauge(
                "persona_consumer_lag",
                [_lag_observations(metrics, watcher)],
                description="records of an input partition after the flow's last durable epoch",
            )

        def ready() -> Readiness:
            state = watcher.state
            return readiness(state.committed, state.lag, settings.ready_max_lag, state.error)

    serve(settings.metrics_host, settings.metrics_port, registry, ready)
    return Observability(metrics, ready)


def _lag_observations(
    metrics: FlowMetrics, watcher: LagWatcher
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(options: CallbackOptions) -> Iterable[Observation]:
        state = watcher.state
        if state.error is not None:
            # The last measurement failed (logged; /readyz gives the reason): an earlier lag would be
            # reported as current, so no series until a measurement succeeds again.
            return []
        lag = state.lag or {}
        return [
            Observation(records, metrics.attrs(topic=topic, partition=str(partition)))
            for (topic, partition), records in lag.items()
        ]

    return callback


def serve(
    host: str, port: int, registry: CollectorRegistry, ready: Callable[[], Readiness]
) -> ThreadingHTTPServer | None:
    """Serve /metrics, /healthz and /readyz on a daemon thread; None (logged) if the port is taken."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            elif path == "/healthz":
                self._send(200, "text/plain; charset=utf-8", b"ok\n")
            elif path == "/readyz":
                state = ready()
                body = json.dumps({"ready": state.ready, "reason": state.reason}).encode() + b"\n"
                self._send(200 if state.ready else 503, "application/json", body)
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found: /metrics, /healthz, /readyz\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a scrape every few seconds is not worth a log line

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as error:
        log.warning("metrics and health endpoint not served on %s:%s: %s", host, port, error)
        return None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="persona-metrics-http", daemon=True).start()
    log.info("metrics and health endpoint on http://%s:%s (/metrics, /healthz, /readyz)", host, port)
    return server
