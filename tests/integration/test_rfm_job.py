"""The nightly RFM job against the real MariaDB and a Paimon warehouse: its customer_profile equals an
independent computation of DESIGN §4b in plain SQL over the CRM, every customer, and re-running a day
is idempotent (same rows, one tag) while a customer deleted from the CRM leaves the profile.

The test's CRM is a private database (same tables) that the stack's CRM user is granted, so its rows
meet no other test's.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from persona.crm import TABLES_DDL, CrmCustomer, CrmOrder, MariaDbCrm, connect
from persona.datagen.crm_history import HistoryConfig, history_customers, history_orders
from persona.localstack import StackSettings
from persona.localstack.crm_schema import LOCAL_USER_HOST, crm_endpoint, root_endpoint
from persona.paimon import PaimonWarehouse, ensure_tables
from persona.paimon.writer import TableWriter

pytestmark = pytest.mark.integration

D = dt.date(2026, 11, 27)
REPO = Path(__file__).resolve().parents[2]


def ms(when: dt.datetime) -> int:
    return int(when.replace(tzinfo=dt.UTC).timestamp() * 1000)


def at(day: dt.date, *hms: int) -> int:
    return ms(dt.datetime.combine(day, dt.time(*hms)))


def days_before(n: int) -> dt.date:
    return D - dt.timedelta(days=n)


@pytest.fixture
def crm_database(stack: StackSettings) -> Iterator[str]:
    name = f"crm_rfm_{uuid.uuid4().hex[:10]}"
    with connect(root_endpoint(stack), autocommit=True) as root, root.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
        cursor.execute(f"USE `{name}`")
        for ddl in TABLES_DDL:
            cursor.execute(ddl)
        cursor.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{name}`.* TO %s@%s", (stack.crm_user, LOCAL_USER_HOST)
        )
    yield name
    with connect(root_endpoint(stack), autocommit=True) as root, root.cursor() as cursor:
        cursor.execute(f"DROP DATABASE `{name}`")


def edge_cases() -> tuple[list[CrmCustomer], list[CrmOrder]]:
    """Customers 1001.. at every boundary of §4b, with orders that make each one matter."""
    customers: list[CrmCustomer] = []
    orders: list[CrmOrder] = []
    next_order = iter(range(900_001, 1_000_000))

    def customer(created_ms: int, *order_rows: tuple[str, int, str]) -> None:
        customer_id = 1001 + len(customers)
        customers.append(CrmCustomer(customer_id, None, created_ms))
        for status, order_ms, amount in order_rows:
            orders.append(
                CrmOrder(next(next_order), customer_id, status, Decimal(amount), "USD", order_ms, order_ms)
            )

    old = at(days_before(900), 8)
    customer(at(D, 23, 59, 59))  # created on D, last ms of the day: NEW, prospect
    customer(at(D + dt.timedelta(days=1), 0))  # created the day after D: no profile
    customer(at(days_before(29), 0), ("PAID", at(D, 12), "1.00"))  # NEW at 29 days
    customer(at(days_before(30), 0), ("PAID", at(D, 12), "1.00"))  # REGULAR at 30 days
    customer(old, ("PAID", at(days_before(364), 0), "10.00"))  # in the window on its first day
    customer(old, ("PAID", at(days_before(365), 23, 59, 59), "10.00"))  # out of the window: LAPSED, at_risk
    customer(old, ("SHIPPED", at(days_before(366), 12), "10.00"))  # churned (recency 366)
    customer(old, *(("PAID", at(days_before(i), 9), "416.67") for i in range(12)))  # 12 orders, 5000.04: VIP
    customer(old, *(("PAID", at(days_before(i), 9), "416.66") for i in range(12)))  # 4999.92: LOYAL
    customer(old, ("PAID", at(days_before(1), 9), "5000.00"), *(("SHIPPED", at(days_before(i), 9), "0.00") for i in range(2, 13)))  # fmt: skip
    customer(old, *(("PAID", at(days_before(i), 9), "50.00") for i in range(5)))  # LOYAL at exactly 5
    customer(
        old, ("REFUNDED", at(D, 9), "99.00"), ("CANCELLED", at(D, 9), "99.00"), ("PLACED", at(D, 9), "9.00")
    )
    customer(old, ("PAID", at(D + dt.timedelta(days=1), 0), "10.00"))  # ordered after D: not counted
    customer(old, ("PAID", at(days_before(90), 23, 59), "1.00"))  # active at 90
    customer(old, ("PAID", at(days_before(91), 0, 0, 1), "1.00"))  # at_risk at 91
    return customers, orders


def run_job(stack: StackSettings, database: str, warehouse: Path, *args: str) -> None:
    # The tags' publication into Nessie is test_publication's; here only the job.
    env = {
        **os.environ,
        "PERSONA_CRM_DATABASE": database,
        "PERSONA_WAREHOUSE": str(warehouse),
        "PERSONA_PUBLICATION": "off",
    }
    result = subprocess.run(
        [sys.executable, "-m", "persona.cli.main", "rfm", "run", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


REFERENCE_SQL = """
SELECT customer_id, frequency, monetary, recency,
  CASE WHEN frequency >= 12 AND monetary >= 5000.00 THEN 'VIP'
       WHEN frequency >= 5 THEN 'LOYAL'
       WHEN age_days < 30 THEN 'NEW'
       WHEN frequency >= 1 THEN 'REGULAR'
       ELSE 'LAPSED' END AS segment,
  CASE WHEN recency IS NULL THEN 'prospect'
       WHEN recency <= 90 THEN 'active'
       WHEN recency <= 365 THEN 'at_risk'
       ELSE 'churned' END AS lifecycle_stage
FROM (
  SELECT c.customer_id,
    DATEDIFF(%(d)s, DATE(c.created_at)) AS age_days,
    COUNT(CASE WHEN o.status IN ('PAID', 'SHIPPED') AND DATE(o.order_time) BETWEEN %(d)s - INTERVAL 364 DAY AND %(d)s
               THEN 1 END) AS frequency,
    COALESCE(SUM(CASE WHEN o.status IN ('PAID', 'SHIPPED')
                       AND DATE(o.order_time) BETWEEN %(d)s - INTERVAL 364 DAY AND %(d)s
                      THEN o.total_amount END), 0.00) AS monetary,
    DATEDIFF(%(d)s, MAX(CASE WHEN o.status IN ('PAID', 'SHIPPED') AND DATE(o.order_time) <= %(d)s
                             THEN DATE(o.order_time) END)) AS recency
  FROM customers c LEFT JOIN orders o ON o.customer_id = c.customer_id
  WHERE DATE(c.created_at) <= %(d)s
  GROUP BY c.customer_id, c.created_at
) per_customer
"""


def reference(stack: StackSettings, database: str, as_of: dt.date) -> dict[int, tuple[object, ...]]:
    with connect(root_endpoint(stack, database), autocommit=True) as root, root.cursor() as cursor:
        cursor.execute(REFERENCE_SQL, {"d": as_of})
        return {
            row[0]: (
                row[4],
                None if row[3] is None else int(row[3]),
                int(row[1]),
                Decimal(row[2]),
                row[5],
                as_of,
            )
            for row in cursor.fetchall()
        }


def profiles(warehouse: Path, snapshot_tag: str | None = None) -> dict[int, tuple[object, ...]]:
    store = PaimonWarehouse(warehouse)
    table = (
        store.read_arrow("customer_profile", tag=snapshot_tag)
        if snapshot_tag
        else store.read_arrow("customer_profile")
    )
    return {
        r["customer_id"]: (
            r["segment"],
            r["recency"],
            r["frequency"],
            r["monetary"],
            r["lifecycle_stage"],
            r["rfm_as_of"],
        )
        for r in table.to_pylist()
    }


def test_the_profile_equals_plain_sql_over_the_crm_for_every_customer(
    stack: StackSettings, crm_database: str, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse"
    ensure_tables(warehouse)
    history = HistoryConfig(seed=21, customers=600, history_days=800, end_ms=at(D + dt.timedelta(days=2), 0))
    edge_customers, edge_orders = edge_cases()
    endpoint = crm_endpoint(stack)
    with MariaDbCrm(
        type(endpoint)(endpoint.host, endpoint.port, endpoint.user, endpoint.password, crm_database)
    ) as crm:
        crm.upsert_customers([*history_customers(history), *edge_customers])
        crm.upsert_orders([*history_orders(history), *edge_orders])

        # A backfill runs its days in order: the table ends as of D, each day tagged.
        run_job(
            stack,
            crm_database,
            warehouse,
            "--from",
            (D - dt.timedelta(days=1)).isoformat(),
            "--to",
            D.isoformat(),
        )
        got = profiles(warehouse)
        want = reference(stack, crm_database, D)
        assert got == want
        assert profiles(warehouse, "rfm-20261126") == reference(stack, crm_database, D - dt.timedelta(days=1))
        # The edge cases are what they say (the reference agrees with the rules, not only with the job).
        assert 1002 not in got and got[1001][0] == "NEW"
        assert [got[c][0] for c in (1003, 1004, 1008, 1009, 1010, 1011)] == [
            "NEW",
            "REGULAR",
            "VIP",
            "LOYAL",
            "VIP",
            "LOYAL",
        ]
        assert [got[c][4] for c in (1005, 1006, 1007, 1014, 1015)] == [
            "at_risk",
            "at_risk",
            "churned",
            "active",
            "at_risk",
        ]
        assert got[1006][2] == 0 and got[1005][2] == 1
        assert got[1012][1:4] == (None, 0, Decimal("0.00")) and got[1013][1] is None

        # Re-running D: the same rows, still one tag of D (moved to the new snapshot); a customer
        # deleted from the CRM is gone from the profile.
        crm.delete_customers([1008])
        run_job(stack, crm_database, warehouse, "--as-of", D.isoformat())
    again = profiles(warehouse)
    assert 1008 not in again
    assert again == {k: v for k, v in want.items() if k != 1008}
    tags = PaimonWarehouse(warehouse).list_tags("customer_profile")
    assert tags == ["rfm-20261126", "rfm-20261127"]
    assert profiles(warehouse, "rfm-20261127") == again

    # Erased customers the CRM still holds stay erased (docs/erasure.md). 1009 (12 orders, one a day
    # at 09:00 up to D) was erased on D-3 at noon and ordered again since: a comeback, a customer since
    # D-3 with the 3 orders after the erasure only, so NEW. 1010 (all orders before its erasure on
    # D+1) gets no profile, neither does it in a backfill of a day before its erasure.
    record = TableWriter(PaimonWarehouse(warehouse), "erasures", "persona-erase")
    try:
        for customer_id, erased_ms in (
            (1009, at(days_before(3), 12)),
            (1010, at(D + dt.timedelta(days=1), 8)),
        ):
            record.add(
                {
                    "erasure_id": str(uuid.uuid4()),
                    "customer_id": customer_id,
                    "reason": "test",
                    "requested_by": "test",
                    "requested_at": erased_ms,
                    "applied_at": erased_ms,
                    "rows_deleted_json": "{}",
                }
            )
        record.commit()
    finally:
        record.close()
    run_job(
        stack,
        crm_database,
        warehouse,
        "--from",
        (D - dt.timedelta(days=1)).isoformat(),
        "--to",
        D.isoformat(),
    )
    erased = profiles(warehouse)
    assert 1010 not in erased
    assert erased[1009] == ("NEW", 0, 3, Decimal("1249.98"), "active", D)
    assert {k: v for k, v in erased.items() if k not in (1009, 1010)} == {
        k: v for k, v in again.items() if k not in (1009, 1010)
    }
    day_before = profiles(warehouse, "rfm-20261126")
    assert 1010 not in day_before
    assert day_before[1009] == ("NEW", 0, 2, Decimal("833.32"), "active", D - dt.timedelta(days=1))
