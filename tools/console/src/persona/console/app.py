"""The console's web app (Starlette): one page, rendered on the server by Jinja2, refreshed by the browser.

``/`` shows segment sizes over time and the latest RFM tag (Paimon), freshness, consumer lag and dead
letters (Prometheus); ``/?customer=ID`` adds that customer's current segment, the explanation of the
decision in force and their profile. ``/healthz`` answers ``ok``. Routes are plain functions (Starlette
runs them in its thread pool): the readers they call block.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from persona.console.charts import segment_chart_svg
from persona.console.prometheus import PrometheusError, PrometheusReader
from persona.console.views import (
    CustomerView,
    Dashboard,
    Metrics,
    Queries,
    SegmentHistory,
    dlq_rows,
    flow_lags,
    format_seconds,
    freshness_rows,
    latest_rfm_tag,
)
from persona.console.warehouse import WarehouseReader

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
# How often the page reloads itself (seconds): Prometheus scrapes every few seconds, the sink commits
# every PERSONA_COMMIT_INTERVAL.
REFRESH_SECONDS = 10
# Without the pipeline's topics, lag and dead letters of every series Prometheus holds.
EVERY_SERIES = Queries()


@dataclass(frozen=True)
class Sources:
    prometheus: PrometheusReader
    warehouse: WarehouseReader
    prometheus_url: str
    queries: Queries = EVERY_SERIES


def read_metrics(prometheus: PrometheusReader, at: float, queries: Queries = EVERY_SERIES) -> Metrics:
    try:
        return Metrics(
            at=at,
            freshness=freshness_rows(
                prometheus.instant(queries.freshness_p50, at),
                prometheus.instant(queries.freshness_p99, at),
                prometheus.instant(queries.freshness_p50_since_start, at),
                prometheus.instant(queries.freshness_p99_since_start, at),
            ),
            lag=flow_lags(prometheus.instant(queries.lag, at)),
            dlq=dlq_rows(prometheus.instant(queries.dlq, at)),
        )
    except PrometheusError as error:
        log.warning("console: %s", error)
        return Metrics(at=at, error=str(error))


def _read_warehouse(warehouse: WarehouseReader) -> tuple[SegmentHistory, str | None, str | None]:
    try:
        return warehouse.segment_history(), latest_rfm_tag(warehouse.rfm_tags()), None
    except Exception as error:  # a missing table or warehouse shows on the page, the console stays up
        log.warning("console: cannot read the warehouse: %s", error)
        return SegmentHistory((), ()), None, f"cannot read the warehouse: {error}"


def _customer(
    warehouse: WarehouseReader, raw: str | None, now: dt.datetime
) -> tuple[CustomerView | None, str | None]:
    if raw is None or not raw.strip():
        return None, None
    try:
        customer_id = int(raw.strip())
    except ValueError:
        return None, f"not a customer id: {raw.strip()[:40]!r} (customer ids are integers)"
    try:
        return warehouse.customer(customer_id, now), None
    except Exception as error:
        log.warning("console: cannot read customer %d: %s", customer_id, error)
        return CustomerView(customer_id, None, (), None, error=f"cannot read the warehouse: {error}"), None


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["seconds"] = format_seconds
    env.filters["utc"] = lambda at: dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    env.filters["ms_utc"] = lambda ms: dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%H:%M:%S")
    return Jinja2Templates(env=env)


def create_app(sources: Sources, clock: Callable[[], float] = time.time) -> Starlette:
    templates = _templates()

    def index(request: Request) -> Response:
        at = round(clock(), 3)
        now = dt.datetime.fromtimestamp(at, dt.UTC)
        segments, rfm_tag, warehouse_error = _read_warehouse(sources.warehouse)
        customer, search_error = _customer(sources.warehouse, request.query_params.get("customer"), now)
        dashboard = Dashboard(
            metrics=read_metrics(sources.prometheus, at, sources.queries),
            segments=segments,
            rfm_tag=rfm_tag,
            warehouse_error=warehouse_error,
            customer=customer,
            search_error=search_error,
        )
        return templates.TemplateResponse(
            request,
            "index.html",
            {
                "d": dashboard,
                # Escaped by segment_chart_svg itself; the template marks it safe.
                "chart": segment_chart_svg(segments),
                "refresh": REFRESH_SECONDS,
                "prometheus_url": sources.prometheus_url,
                "queries": dataclasses.asdict(sources.queries),
                "searched": request.query_params.get("customer", ""),
            },
        )

    def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok\n")

    return Starlette(
        routes=[
            Route("/", index),
            Route("/healthz", healthz),
            Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
        ]
    )
