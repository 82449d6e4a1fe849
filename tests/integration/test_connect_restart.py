"""Kafka Connect killed (SIGKILL) while order changes stream into the CRM, then restarted by
`persona stack up`: every change still reaches orders_cdc (at least once; repeats are the cdc flow's
to absorb), because the connector resumes from the binlog position it committed to Kafka."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from decimal import Decimal

import orjson
import pytest

from persona.crm import CrmOrder, MariaDbCrm, OrderChange
from persona.kafka import read_topic
from persona.localstack import StackSettings, create_topic, running_pid, up
from persona.localstack.connect import (
    CdcConnector,
    connector_state,
    delete_connector,
    ensure_running_connector,
)
from persona.localstack.crm_schema import crm_endpoint
from persona.localstack.procs import process_alive

pytestmark = pytest.mark.integration

CHANGES = 3_000
BATCH = 50


def test_no_order_change_is_lost_when_connect_is_killed_mid_stream(stack: StackSettings) -> None:
    tag = uuid.uuid4().hex[:10]
    topic = f"connect_kill_{tag}"
    create_topic(stack, topic, 1)
    connector = CdcConnector(
        name=f"kill-{tag}",
        target_topic=topic,
        server_id=10_000 + random.randrange(1_000_000),
        topic_prefix=f"kill_{tag}",
        snapshot_mode="no_data",
    )
    ensure_running_connector(stack, connector)
    base = 6_000_000_000 + random.randrange(1_000_000_000)
    now_ms = int(time.time() * 1000)

    def order(order_id: int) -> OrderChange:
        return OrderChange(
            "upsert", order_id, CrmOrder(order_id, base, "PAID", Decimal("1.00"), "USD", now_ms, now_ms)
        )

    # The guarantee starts at the connector's first committed offset (Connect commits every second):
    # a connector that never committed one restarts by its snapshot mode (the stack's, "initial",
    # reads the whole table again; this test's "no_data" would start from the binlog's end).
    with MariaDbCrm(crm_endpoint(stack)) as crm:
        crm.apply([order(base - 1)])
    deadline = time.monotonic() + 60
    while connector_state(stack, connector.name).lag is None:
        assert time.monotonic() < deadline, "the connector committed no offset within 60 s"
        time.sleep(0.2)  # polling Connect's offsets API
    written = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with MariaDbCrm(crm_endpoint(stack)) as crm:
                for start in range(0, CHANGES, BATCH):
                    crm.apply([order(base + i) for i in range(start, start + BATCH)])
        except BaseException as error:  # reported by the test thread
            errors.append(error)
        finally:
            written.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        # Kill once the connector is visibly mid-stream: some changes on the topic, more to come.
        deadline = time.monotonic() + 60
        while len(read_topic(stack.kafka_bootstrap, topic, timeout=1)) < CHANGES // 10:
            assert time.monotonic() < deadline, "the connector delivered nothing within 60 s"
        pid = running_pid(stack, "connect")
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while process_alive(pid):
            assert time.monotonic() < deadline
            time.sleep(0.1)  # waiting for the kernel to reap the killed worker
        up(stack)  # restarts Connect (only): the connectors resume from their committed offsets
        writer.join(120)
        assert written.is_set() and not errors, errors

        wanted = {base + i for i in range(CHANGES)}

        def delivered_all(records: list) -> bool:  # type: ignore[type-arg]
            return {orjson.loads(r.value)["after"]["order_id"] for r in records} >= wanted

        # A deadline, not a timing: the restarted worker rejoins its group and restarts the task
        # first, which took minutes on a loaded machine.
        records = read_topic(stack.kafka_bootstrap, topic, until=delivered_all, timeout=300)
        order_ids = [orjson.loads(r.value)["after"]["order_id"] for r in records]
        assert set(order_ids) >= wanted, f"{len(wanted - set(order_ids))} order changes lost"
        # At least once: repeats are allowed (the connector re-reads from its last committed position).
        assert len(order_ids) >= CHANGES
    finally:
        writer.join(120)
        up(stack)  # Connect back, whatever happened above, so the clean-up below can reach it
        delete_connector(stack, connector.name)
        with MariaDbCrm(crm_endpoint(stack)) as crm:
            crm.delete_orders(range(base - 1, base + CHANGES))
