"""The local CRM on the real MariaDB the stack starts: binlog set for Debezium, least-privilege users,
and the CRM adapter's writes."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from decimal import Decimal

import pymysql
import pytest

from persona.crm import CrmCustomer, CrmError, CrmOrder, MariaDbCrm, OrderChange, connect
from persona.localstack import StackSettings, init_schema, probe, status
from persona.localstack.crm_schema import cdc_endpoint, crm_endpoint, root_endpoint

pytestmark = pytest.mark.integration

# Ids far above anything the demo or the seed writes, distinct per test through the counter.
_ids = itertools.count(9_000_000_000 + (id(object()) % 1_000_000) * 1_000)


def _query(settings: StackSettings, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with (
        connect(root_endpoint(settings, settings.crm_database), autocommit=True) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, args)
        return list(cursor.fetchall())


def test_mariadb_is_healthy_with_a_row_binlog_and_gtids(stack: StackSettings) -> None:
    healthy, detail = probe(stack, "mariadb")
    assert healthy, detail
    assert "binlog ROW" in detail
    [(binlog_format, row_image, log_bin, time_zone, server_id)] = _query(
        stack, "SELECT @@binlog_format, @@binlog_row_image, @@log_bin, @@time_zone, @@server_id"
    )
    assert (binlog_format, row_image, log_bin, time_zone) == ("ROW", "FULL", 1, "+00:00")
    assert server_id == 1
    assert "mariadb" in {service.name for service in status(stack) if service.healthy}


def test_init_is_idempotent_and_reports_the_crm_objects(stack: StackSettings) -> None:
    report = init_schema(stack)
    assert {"mariadb table crm.customers", "mariadb table crm.orders", "mariadb user persona"} <= set(
        report.existing
    )
    assert not [label for label in report.created if label.startswith("mariadb")]


def test_the_crm_user_reads_and_writes_the_crm_and_nothing_else(stack: StackSettings) -> None:
    customer_id, order_id = next(_ids), next(_ids)
    with MariaDbCrm(crm_endpoint(stack)) as crm:
        crm.upsert_customers([CrmCustomer(customer_id, "a@example.com", 1_764_000_000_000)])
        order = CrmOrder(
            order_id, customer_id, "PLACED", Decimal("12.30"), "USD", 1_764_000_000_123, 1_764_000_000_123
        )
        crm.apply([OrderChange("upsert", order_id, order)])
        crm.apply([OrderChange("upsert", order_id, dataclasses.replace(order, status="PAID"))])
        assert crm.next_order_id() > order_id
    rows = _query(
        stack, "SELECT status, total_amount, order_time FROM orders WHERE order_id = %s", (order_id,)
    )
    [(status_, amount, order_time)] = rows
    assert (status_, amount) == ("PAID", Decimal("12.30"))
    # Stored as the UTC wall time of the epoch millis, to the millisecond.
    assert order_time.isoformat() == "2025-11-24T16:00:00.123000"
    with MariaDbCrm(crm_endpoint(stack)) as crm:
        crm.apply([OrderChange("delete", order_id)])
        crm.delete_customers([customer_id])
    assert _query(stack, "SELECT 1 FROM orders WHERE order_id = %s", (order_id,)) == []

    with connect(crm_endpoint(stack)) as connection, connection.cursor() as cursor:
        with pytest.raises(pymysql.MySQLError, match="denied"):
            cursor.execute("SELECT user FROM mysql.user")
        with pytest.raises(pymysql.MySQLError, match="denied"):
            cursor.execute("CREATE DATABASE persona_should_not_exist")


def test_the_cdc_user_may_read_the_binlog_but_never_write(stack: StackSettings) -> None:
    with connect(cdc_endpoint(stack)) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW MASTER STATUS")
        assert cursor.fetchone() is not None
        cursor.execute(f"SELECT COUNT(*) FROM {stack.crm_database}.orders")
        with pytest.raises(pymysql.MySQLError, match="denied"):
            cursor.execute(f"DELETE FROM {stack.crm_database}.orders WHERE order_id = -1")
        with pytest.raises(pymysql.MySQLError, match="denied"):
            cursor.execute("SELECT user FROM mysql.user")


def test_a_refused_write_is_a_clear_error_and_leaves_nothing(stack: StackSettings) -> None:
    order_id = next(_ids)
    ok = CrmOrder(order_id, 1, "PAID", Decimal("1.00"), "USD", 1_764_000_000_000, 1_764_000_000_000)
    # DECIMAL(12,2) holds at most 10 integer digits; strict mode refuses instead of clipping.
    too_big = CrmOrder(
        next(_ids), 1, "PAID", Decimal("123456789012.00"), "USD", 1_764_000_000_000, 1_764_000_000_000
    )
    with MariaDbCrm(crm_endpoint(stack)) as crm, pytest.raises(CrmError, match="refused 2 order changes"):
        crm.apply([OrderChange("upsert", order_id, ok), OrderChange("upsert", too_big.order_id, too_big)])
    assert _query(stack, "SELECT 1 FROM orders WHERE order_id = %s", (order_id,)) == []


def test_a_wrong_password_is_refused_without_showing_it(
    stack: StackSettings, unique_name: Callable[[str], str]
) -> None:
    wrong = unique_name("wrong")
    with pytest.raises(CrmError) as raised:
        connect(dataclasses.replace(crm_endpoint(stack), password=wrong))
    assert "denied" in str(raised.value)
    assert wrong not in str(raised.value)
