"""The CRM through the real path: an order written to MariaDB reaches the decision in seconds.

MariaDB's binlog -> Debezium on Kafka Connect -> orders_cdc -> the cdc flow -> order_facts -> the enrich
flow -> marketing_segments_rt. The test registers a private connector (no snapshot: only its own
changes) that writes to the scenario's private orders_cdc, and a customer no other test uses.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import orjson
import pytest
from pipeline_support import Scenario, wait_for

from persona.contracts import Ok, parse_decision_message
from persona.crm import CrmCustomer, CrmOrder, MariaDbCrm, OrderChange
from persona.kafka import make_producer, produce_all, read_topic
from persona.localstack.connect import (
    CdcConnector,
    connector_state,
    delete_connector,
    ensure_running_connector,
    pause_connector,
    resume_connector,
)
from persona.localstack.crm_schema import crm_endpoint
from persona.localstack.runner import FlowProcess

pytestmark = pytest.mark.integration

# Far above the seed's and the demo's customer ids, and random, so reruns never meet old rows.
CUSTOMER_ID = 7_000_000_000 + random.randrange(1_000_000_000)


@pytest.fixture
def connector(scenario: Scenario) -> Iterator[CdcConnector]:
    tag = uuid.uuid4().hex[:10]
    cdc = CdcConnector(
        name=f"e2e-{tag}",
        target_topic=scenario.topics.orders_cdc,
        # A replica id of its own: two connectors with one id would take each other's binlog stream.
        server_id=10_000 + random.randrange(1_000_000),
        topic_prefix=f"e2e_{tag}",
        snapshot_mode="no_data",
    )
    ensure_running_connector(scenario.stack, cdc)
    yield cdc
    delete_connector(scenario.stack, cdc.name)


def test_an_order_paid_in_the_crm_changes_the_decision_and_a_refund_undoes_it(
    scenario: Scenario, connector: CdcConnector
) -> None:
    s = scenario
    flows = [FlowProcess(name, s.state_dir, s.env, snapshot_seconds=1) for name in ("cdc", "enrich")]
    for flow in flows:
        flow.start()
    enrich = flows[1]
    producer = make_producer(s.stack.kafka_bootstrap)
    crm = MariaDbCrm(crm_endpoint(s.stack))
    now_ms = int(time.time() * 1000)
    order = CrmOrder(CUSTOMER_ID, CUSTOMER_ID, "PLACED", Decimal("120.00"), "USD", now_ms, now_ms)
    events = 0

    def decide() -> tuple[str, float | None]:
        """Send a behavior event of the customer; the segment and score of its decision on rt."""
        nonlocal events
        events += 1
        event_id = f"crm-e2e-{events}"
        event = {
            "event_id": event_id,
            "user_id": CUSTOMER_ID,
            "event_type": "page_view",
            "sku_id": None,
            "event_time": int(time.time() * 1000),
        }
        produce_all(producer, s.topics.behavior_events, [(str(CUSTOMER_ID).encode(), orjson.dumps(event))])

        def decided() -> tuple[str, float | None] | None:
            for record in read_topic(s.stack.kafka_bootstrap, s.topics.marketing_segments_rt, timeout=2):
                message = parse_decision_message(record.value or b"")
                if isinstance(message, Ok) and message.value.version == events:
                    return message.value.decision.segment, message.value.decision.score
            return None

        return wait_for(f"the decision of event {event_id}", decided, 60, flows)

    def apply(change: OrderChange, facts: int) -> None:
        """Write to the CRM, then wait until enrich has applied the change's order fact."""
        crm.apply([change])
        wait_for(
            f"order fact {facts} applied by enrich",
            lambda: True if enrich.committed_offsets(s.topics.order_facts) >= facts else None,
            60,
            flows,
        )

    try:
        crm.upsert_customers([CrmCustomer(CUSTOMER_ID, None, now_ms - 400 * 86_400_000)])
        # No profile and no counted order: recency is null, DORMANT (DESIGN §4), no score.
        apply(OrderChange("upsert", order.order_id, order), facts=1)
        assert decide() == ("DORMANT", None)
        # Paid today: the order counts, recency 0 -> ACTIVE; score = 1 * 0.5 + 120.00 * 0.1.
        apply(OrderChange("upsert", order.order_id, dataclasses.replace(order, status="PAID")), facts=2)
        segment, score = decide()
        assert segment == "ACTIVE"
        assert score == pytest.approx(12.5)
        # Refunded: it stops counting, and the customer is DORMANT again.
        refunded = dataclasses.replace(order, status="REFUNDED", updated_at_ms=now_ms + 1)
        apply(OrderChange("upsert", order.order_id, refunded), facts=3)
        assert decide() == ("DORMANT", None)
    finally:
        crm.apply([OrderChange("delete", order.order_id)])
        crm.delete_customers([CUSTOMER_ID])
        crm.close()
        for flow in flows:
            flow.stop()


def test_orders_cdc_carries_the_crm_row_as_the_contract_says(
    scenario: Scenario, connector: CdcConnector
) -> None:
    s = scenario
    order_id = CUSTOMER_ID + 1
    order_time = dt.datetime(2026, 11, 27, 23, 59, 59, 999_000, tzinfo=dt.UTC)
    ms = int(order_time.timestamp() * 1000)
    row = CrmOrder(order_id, CUSTOMER_ID, "SHIPPED", Decimal("0.10"), "EUR", ms, ms)
    with MariaDbCrm(crm_endpoint(s.stack)) as crm:
        crm.apply([OrderChange("upsert", order_id, row)])
        crm.apply([OrderChange("delete", order_id)])
    records = read_topic(s.stack.kafka_bootstrap, s.topics.orders_cdc, min_count=2, timeout=60)
    assert [r.key for r in records] == [str(order_id).encode()] * 2
    created, deleted = (orjson.loads(r.value or b"") for r in records)
    assert created["op"] == "c" and deleted["op"] == "d"
    assert created["after"] == {
        "order_id": order_id,
        "customer_id": CUSTOMER_ID,
        "status": "SHIPPED",
        "total_amount": "0.10",
        "currency": "EUR",
        "order_time": ms,
        "updated_at": ms,
    }
    assert deleted["before"] == created["after"] and deleted["after"] is None


def test_status_counts_the_order_changes_the_connector_has_not_delivered(
    scenario: Scenario, connector: CdcConnector
) -> None:
    s = scenario
    order_id = CUSTOMER_ID + 10
    now_ms = int(time.time() * 1000)
    row = CrmOrder(order_id, CUSTOMER_ID, "PLACED", Decimal("5.00"), "USD", now_ms, now_ms)

    def lag_is(expected: int) -> bool | None:
        return True if connector_state(s.stack, connector.name).lag == expected else None

    def state_is(expected: str) -> bool | None:
        state = connector_state(s.stack, connector.name)
        return True if state.state == expected and set(state.tasks) == {expected} else None

    with MariaDbCrm(crm_endpoint(s.stack)) as crm:
        try:
            # A first change gives the connector an offset; once committed, nothing is pending.
            crm.apply([OrderChange("upsert", order_id, row)])
            wait_for("the first change committed, lag 0", lambda: lag_is(0), 60, [])
            pause_connector(s.stack, connector.name)
            wait_for("the connector paused", lambda: state_is("PAUSED"), 60, [])
            # Two order transactions the paused connector has not read, and a customer's, which is
            # nothing it delivers: 2, where counting every binlog transaction said 3.
            crm.apply([OrderChange("upsert", order_id, dataclasses.replace(row, status="PAID"))])
            crm.upsert_customers([CrmCustomer(CUSTOMER_ID, None, now_ms)])
            crm.apply([OrderChange("delete", order_id)])
            assert connector_state(s.stack, connector.name).lag == 2
            resume_connector(s.stack, connector.name)
            wait_for("the connector caught up, lag 0", lambda: lag_is(0), 60, [])
        finally:
            crm.apply([OrderChange("delete", order_id)])
            crm.delete_customers([CUSTOMER_ID])
