"""`persona console` in a real browser (Debian's headless Chromium, driven by Playwright) while the
three flows run on the real stack: the numbers on the page are those Paimon and Prometheus give for
the same snapshots and the same instant (queried here independently), a customer search shows the
customer's segment and the same explanation as `persona segments explain`, and a screenshot of the
page is saved as a test artifact (``test-artifacts/``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pipeline_support import Scenario, free_port_block, load_stores, wait_for
from playwright.sync_api import Page, sync_playwright

from persona.console.views import topic_matcher
from persona.contracts import Ok, parse_decision_message
from persona.datagen import DataGenerator, GeneratorConfig
from persona.flows.common.recovery import committed_input
from persona.kafka import end_offsets, make_producer, produce_all, read_topic
from persona.localstack import StackSettings
from persona.localstack.runner import FlowProcess
from persona.paimon import PaimonWarehouse
from persona.settings.registry import CHROMIUM

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
RFM_TAG = "rfm-20261206"


def _chromium() -> str:
    found = CHROMIUM.get(os.environ) or shutil.which("chromium")
    if not found:
        pytest.fail("Debian's chromium is not installed: `./dev test` installs it (apt-get install chromium)")
    return found


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            body: bytes = response.read()
            return body
    except OSError:
        return None


def _prometheus(stack: StackSettings, promql: str, at: float) -> list[dict[str, Any]]:
    """An instant query at ``at``, asked here, not through the console's adapter."""
    query = urllib.parse.urlencode({"query": promql, "time": f"{at:.3f}"})
    body = json.loads(_get(f"{stack.prometheus_url}/api/v1/query?{query}") or b"{}")
    assert body.get("status") == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


@contextlib.contextmanager
def _console(env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "persona.cli.main", "console"],
            env={**os.environ, **env, "PERSONA_CONSOLE_PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        # Its imports (pyarrow, pypaimon) take a while on a busy machine.
        deadline = time.monotonic() + 240
        while _get(f"{url}/healthz") != b"ok\n":
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the console did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)  # poll interval of the start-up check
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _scalar(stack: StackSettings, promql: str) -> float | None:
    result = _prometheus(stack, promql, time.time())
    return float(result[0]["value"][1]) if result else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _page_state(page: Page) -> dict[str, Any]:
    """Everything the test compares, read from the DOM in one evaluation (the page reloads itself)."""
    state: dict[str, Any] = page.evaluate(
        """() => {
          const rows = (sel, f) => Array.from(document.querySelectorAll(sel)).map(f);
          const main = document.querySelector('#dashboard');
          return {
            at: main.dataset.evalTime,
            latest: document.querySelector('#segments-latest')?.dataset.snapshot ?? null,
            points: rows('#segments-history tr.point', tr => ({
              snapshot: tr.dataset.snapshot,
              counts: Object.fromEntries(Array.from(tr.querySelectorAll('td[data-segment]'))
                .map(td => [td.dataset.segment, Number(td.dataset.count)])),
            })),
            freshness: rows('tr.freshness', tr => [tr.dataset.sink, tr.dataset.p50, tr.dataset.p99,
              tr.dataset.p50SinceStart, tr.dataset.p99SinceStart]),
            lag: rows('tr.lag', tr => [tr.dataset.flow, Number(tr.dataset.lag)]),
            dlq: rows('tr.dlq', tr => [tr.dataset.flow, tr.dataset.topic, tr.dataset.reason, Number(tr.dataset.total)]),
            noData: rows('tr.no-data', tr => tr.closest('section').id),
            rfmTag: document.querySelector('#rfm-tag').textContent.trim(),
            metricsError: document.querySelector('#metrics-error')?.textContent ?? null,
          };
        }"""
    )
    return state


def _segment_counts(warehouse: PaimonWarehouse, snapshot_id: int) -> dict[str, int]:
    table = warehouse.read_arrow("marketing_segments", columns=["segment"], snapshot_id=snapshot_id)
    return dict(Counter(table.column("segment").to_pylist()))


def _quantile(value: str) -> float | None:
    return None if value == "" else float(value)


def _same(shown: float | None, queried: float) -> bool:
    if shown is None:
        return not math.isfinite(queried)
    return math.isclose(shown, queried, rel_tol=1e-9, abs_tol=1e-9)


def _by_sink(stack: StackSettings, promql: str, at: float) -> dict[str, float]:
    return {r["metric"].get("sink", ""): float(r["value"][1]) for r in _prometheus(stack, promql, at)}


def _check_metrics(stack: StackSettings, topics: set[str], state: dict[str, Any]) -> None:
    """The page against Prometheus asked here; lag and dead letters of ``topics`` (this pipeline's) only."""
    at = float(state["at"])
    assert state["metricsError"] is None, state["metricsError"]
    windowed = "rate(persona_segment_freshness_seconds_bucket[5m])"
    cumulative = "persona_segment_freshness_seconds_bucket"
    expected = [
        _by_sink(stack, f"histogram_quantile({q}, sum by (sink, le) ({buckets}))", at)
        for buckets in (windowed, cumulative)
        for q in ("0.5", "0.99")
    ]
    shown_freshness = {row[0]: [_quantile(v) for v in row[1:]] for row in state["freshness"]}
    assert set(shown_freshness) == set().union(*expected)
    for sink, shown in shown_freshness.items():
        for value, queried in zip(shown, expected, strict=True):
            assert _same(value, queried.get(sink, math.nan)), (sink, shown)

    lag: dict[str, dict[tuple[str, str], float]] = {}
    for r in _prometheus(stack, "persona_consumer_lag", at):
        m = r["metric"]
        if m.get("topic") not in topics:
            continue
        key = (m.get("topic", ""), m.get("partition", ""))
        per_flow = lag.setdefault(m.get("flow", ""), {})
        per_flow[key] = max(per_flow.get(key, -math.inf), float(r["value"][1]))
    assert dict(state["lag"]) == {flow: sum(p.values()) for flow, p in lag.items()}

    dlq = sorted(
        (
            r["metric"].get("flow", ""),
            r["metric"].get("topic", ""),
            r["metric"].get("reason", ""),
            float(r["value"][1]),
        )
        for r in _prometheus(stack, "sum by (flow, topic, reason) (persona_events_dlq_total)", at)
        if r["metric"].get("topic") in topics
    )
    assert sorted(tuple(r) for r in state["dlq"]) == dlq
    assert dlq, "malformed records were sent: their dead letters are counted"

    # A section without a series says so rather than showing nothing.
    assert ("dlq" in state["noData"]) == (not dlq)

    # What the flows export is on the page: both sinks' freshness, every flow's lag. A
    # sink's 5-minute quantiles are "no data" (NaN in Prometheus) when its histogram did not grow
    # within the window as scraped (e.g. born at its final count); those since start are always there.
    assert set(shown_freshness) == {"rt", "paimon"}
    assert all(shown[2] is not None and shown[3] is not None for shown in shown_freshness.values())
    # Every flow's lag is on the page, caught up (its value is Prometheus's, checked above).
    assert dict(state["lag"]) == {"cdc": 0, "enrich": 0, "sink": 0}


def _readiness(flow: FlowProcess) -> str:
    """The flow's /readyz answer (its durable epoch and worst lag, or why it cannot measure them)."""
    try:
        with urllib.request.urlopen(f"http://{flow.scrape_address()}/readyz", timeout=5) as response:
            return response.read().decode().strip()
    except urllib.error.HTTPError as error:
        return error.read().decode().strip()
    except OSError as error:
        return f"unreachable: {error}"


def _waiting_decisions(enrich: FlowProcess) -> float | None:
    """``persona_enrich_waiting_decisions`` as the enrich process serves it now (its /metrics)."""
    body = _get(f"http://{enrich.scrape_address()}/metrics") or b""
    for line in body.decode().splitlines():
        if line.startswith("persona_enrich_waiting_decisions{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def _wait_for_every_decision_written(flows: list[FlowProcess]) -> None:
    """Enrich may hold decisions of inputs it has committed, waiting for inventory reads (slow
    Cassandra under load): wait until none waits, then until an epoch begun after that is durable
    (its outputs, those decisions included, are on Kafka by then)."""
    enrich = flows[1]

    def epoch() -> int:
        return committed_input(enrich.recovery_dir, enrich.spec.input_step_id).epoch or 0

    seen = wait_for(
        "enrich to hold no decision waiting for inventory",
        lambda: epoch() if _waiting_decisions(enrich) == 0 else None,
        120,
        flows,
    )
    wait_for(
        "enrich to make an epoch after that durable", lambda: True if epoch() >= seen + 2 else None, 60, flows
    )


def test_console_shows_what_paimon_and_prometheus_hold(scenario: Scenario, tmp_path: Path) -> None:
    s = scenario
    chromium = _chromium()
    start_ms = int(time.time() * 1000) - 60_000
    gen = DataGenerator(
        GeneratorConfig(seed=20, customers=40, skus=30, order_fraction=0.2, malformed_fraction=0.05)
    )
    load_stores(gen, s, start_ms)
    warehouse = PaimonWarehouse(s.warehouse)
    profile_snapshot = warehouse.latest_snapshot_id("customer_profile")
    warehouse.create_tag("customer_profile", RFM_TAG, profile_snapshot)

    # Each flow serves its metrics on its own port and the runner makes it a target of the stack's
    # Prometheus (cdc base, enrich base + 1, sink base + 2).
    env = {**s.env, "PERSONA_METRICS_PORT": str(free_port_block(3)), "PERSONA_METRICS_HOST": "127.0.0.1"}
    flows = [FlowProcess(name, s.state_dir, env, snapshot_seconds=1) for name in ("cdc", "enrich", "sink")]
    for f in flows:
        f.start()
    try:
        producer = make_producer(s.stack.kafka_bootstrap)
        records = gen.records(600, start_ms, 50)
        # Two batches, each committed before the next: marketing_segments gets a history to chart.
        for batch in (records[:300], records[300:]):
            orders = [(r.key, r.value) for r in batch if r.kind == "order"]
            produce_all(producer, s.topics.orders_cdc, orders)
            produce_all(
                producer, s.topics.behavior_events, [(r.key, r.value) for r in batch if r.kind != "order"]
            )
            events = sum(end_offsets(s.stack.kafka_bootstrap, s.topics.behavior_events).values())
            wait_for(
                "enrich to decide every event sent",
                lambda n=events: True if flows[1].committed_offsets(s.topics.behavior_events) >= n else None,
                120,
                flows,
            )
            # Orders reach enrich through cdc (order_facts) and are decided too: under load they can
            # arrive after the events, so the decisions counted next must include theirs.
            sent_orders = sum(end_offsets(s.stack.kafka_bootstrap, s.topics.orders_cdc).values())
            wait_for(
                "cdc to normalize every order sent",
                lambda n=sent_orders: True if flows[0].committed_offsets(s.topics.orders_cdc) >= n else None,
                120,
                flows,
            )
            facts = sum(end_offsets(s.stack.kafka_bootstrap, s.topics.order_facts).values())
            wait_for(
                "enrich to take every order fact",
                lambda n=facts: True if flows[1].committed_offsets(s.topics.order_facts) >= n else None,
                120,
                flows,
            )
            _wait_for_every_decision_written(flows)
            decided = sum(end_offsets(s.stack.kafka_bootstrap, s.topics.segment_decisions).values())
            wait_for(
                "the sink to commit every decision",
                lambda n=decided: (
                    True if flows[2].committed_offsets(s.topics.segment_decisions) >= n else None
                ),
                120,
                flows,
            )
        rt_count = sum(end_offsets(s.stack.kafka_bootstrap, s.topics.marketing_segments_rt).values())
        rt = read_topic(
            s.stack.kafka_bootstrap, s.topics.marketing_segments_rt, min_count=rt_count, timeout=30
        )
        customers = {
            parsed.value.decision.customer_id
            for r in rt
            if isinstance(parsed := parse_decision_message(r.value or b""), Ok)
        }
        wait_for(
            f"marketing_segments to hold the {len(customers)} customers decided",
            lambda: (
                True
                if warehouse.sql("SELECT count(*) AS n FROM marketing_segments").to_pylist()[0]["n"]
                == len(customers)
                else None
            ),
            60,
            flows,
        )
        snapshots = [int(x["id"]) for x in warehouse.snapshots("marketing_segments")]
        assert len(snapshots) >= 2
        events_in = f'sum(persona_events_in_total{{flow="enrich",topic="{s.topics.behavior_events}"}})'
        # This scenario's topics only: the stack's Prometheus may still show a previous run's series.
        lagging = topic_matcher(s.topics.all_topics())
        expected = {
            events_in: float(events),
            "count(sum by (sink) (persona_segment_freshness_seconds_count) > 0)": 2.0,
            f"count(count by (flow) (persona_consumer_lag{lagging}))": 3.0,
            f"sum(persona_consumer_lag{lagging})": 0.0,
        }
        seen: dict[str, float | None] = {}

        def scraped() -> bool | None:
            seen.update({query: _scalar(s.stack, query) for query in expected})
            return True if seen == expected else None

        wait_for(
            lambda: (
                "Prometheus to have scraped every event in, both sinks' freshness and every flow's "
                "lag; still unmet (query: seen, expected): "
                + "; ".join(f"{q}: {seen.get(q)}, {v}" for q, v in expected.items() if seen.get(q) != v)
                + "; lagging: "
                + str(
                    [
                        (r["metric"], r["value"][1])
                        for r in _prometheus(s.stack, f"persona_consumer_lag{lagging} > 0", time.time())
                    ]
                )
                + "; readiness: "
                + "; ".join(f"{f.name}: {_readiness(f)}" for f in flows)
            ),
            scraped,
            120,
            flows,
        )

        ARTIFACTS.mkdir(exist_ok=True)
        with (
            _console(s.env, _free_port(), tmp_path / "console.log") as url,
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(
                executable_path=chromium, headless=True, args=["--no-sandbox"]
            )
            try:
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.goto(url + "/", wait_until="load")
                state = _page_state(page)

                # Segment sizes: every charted snapshot as Paimon reads it, the latest one last.
                assert state["latest"] == str(max(snapshots))
                charted = [int(p["snapshot"]) for p in state["points"]]
                assert charted[0] == min(snapshots) and charted[-1] == max(snapshots)
                assert set(charted) <= set(snapshots) and len(charted) == min(len(snapshots), 40)
                for point in state["points"]:
                    expected = _segment_counts(warehouse, int(point["snapshot"]))
                    shown = {k: v for k, v in point["counts"].items() if v}
                    assert shown == expected, point["snapshot"]
                assert sum(state["points"][-1]["counts"].values()) == len(customers)
                assert state["rfmTag"] == RFM_TAG

                _check_metrics(s.stack, set(s.topics.all_topics()), state)

                # A customer search: the current segment and the explanation `segments explain` prints.
                latest_row = warehouse.sql(
                    "SELECT customer_id, segment FROM marketing_segments ORDER BY updated_at DESC LIMIT 1"
                ).to_pylist()[0]
                customer_id = int(latest_row["customer_id"])
                page.fill("#customer-input", str(customer_id))
                page.click("button[type=submit]")
                page.wait_for_selector(f"#customer[data-customer-id='{customer_id}']")
                assert page.text_content("#customer-segment") == latest_row["segment"]
                explanation = page.text_content("#customer-explanation") or ""
                explain = subprocess.run(
                    [sys.executable, "-m", "persona.cli.main", "segments", "explain", str(customer_id)],
                    env={**os.environ, **s.env},
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )
                assert explain.returncode == 0, explain.stderr
                # The command also names the logic release in force (persona.logic, which the console,
                # reading the warehouse alone, does not import): the explanation is the rest.
                *decision_lines, release_line = explain.stdout.strip().splitlines()
                assert release_line.strip().startswith("logic in force:"), explain.stdout
                assert explanation.strip() == "\n".join(decision_lines).strip()
                assert f"customer {customer_id} was {latest_row['segment']}" in explanation
                assert page.text_content("#rfm-tag") == RFM_TAG

                stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
                shot = ARTIFACTS / f"console-{stamp}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
            finally:
                browser.close()
    finally:
        for f in reversed(flows):
            f.stop()
