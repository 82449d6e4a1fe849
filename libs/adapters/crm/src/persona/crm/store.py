"""Writes to the CRM's tables: the demo's and `persona crm seed`'s way of making order changes.

The CRM is the system of record; persona only writes to it locally, to play the shop. Every write is
one transaction per call, so a batch of changes reaches the binlog (and Debezium) as one commit.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import pymysql

from persona.crm.client import CrmEndpoint, CrmError, connect
from persona.crm.schema import ORDER_STATUSES


def utc_datetime(epoch_ms: int) -> dt.datetime:
    """A naive UTC datetime (what a DATETIME(3) column holds here) from epoch milliseconds."""
    return dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class CrmCustomer:
    customer_id: int
    email: str | None
    created_at_ms: int


@dataclass(frozen=True, slots=True)
class CrmOrder:
    order_id: int
    customer_id: int
    status: str
    total_amount: Decimal
    currency: str
    order_time_ms: int
    updated_at_ms: int

    def __post_init__(self) -> None:
        if self.status not in ORDER_STATUSES:
            raise ValueError(f"order {self.order_id}: status {self.status!r} is not one of {ORDER_STATUSES}")


@dataclass(frozen=True, slots=True)
class OrderChange:
    """One statement on ``orders``: an upsert of the whole row, or a delete of ``order_id``."""

    kind: Literal["upsert", "delete"]
    order_id: int
    row: CrmOrder | None = None


_UPSERT_CUSTOMER = (
    "INSERT INTO customers (customer_id, email, created_at) VALUES (%s, %s, %s) "
    "ON DUPLICATE KEY UPDATE email = VALUES(email), created_at = VALUES(created_at)"
)
_UPSERT_ORDER = (
    "INSERT INTO orders (order_id, customer_id, status, total_amount, currency, order_time, updated_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE customer_id = VALUES(customer_id), "
    "status = VALUES(status), total_amount = VALUES(total_amount), currency = VALUES(currency), "
    "order_time = VALUES(order_time), updated_at = VALUES(updated_at)"
)


_DELETE_ORDER = "DELETE FROM orders WHERE order_id = %s"


def _row_of(change: OrderChange) -> CrmOrder:
    if change.row is None:
        raise ValueError(f"an upsert of order {change.order_id} without its row")
    return change.row


def _customer_params(row: CrmCustomer) -> tuple[object, ...]:
    return (row.customer_id, row.email, utc_datetime(row.created_at_ms))


def _order_params(row: CrmOrder) -> tuple[object, ...]:
    return (
        row.order_id,
        row.customer_id,
        row.status,
        row.total_amount,
        row.currency,
        utc_datetime(row.order_time_ms),
        utc_datetime(row.updated_at_ms),
    )


class MariaDbCrm:
    """The CRM's ``customers`` and ``orders`` over one connection (not thread-safe: one per thread)."""

    def __init__(self, endpoint: CrmEndpoint) -> None:
        self._endpoint = endpoint
        self._connection = connect(endpoint)

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> MariaDbCrm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, statement: str, rows: Sequence[tuple[object, ...]]) -> int:
        if not rows:
            return 0
        try:
            with self._connection.cursor() as cursor:
                cursor.executemany(statement, rows)
            self._connection.commit()
        except pymysql.MySQLError as error:
            self._connection.rollback()
            raise CrmError(f"the CRM refused a write ({statement.split('(')[0].strip()}): {error}") from error
        return len(rows)

    def upsert_customers(self, rows: Iterable[CrmCustomer]) -> int:
        return self._run(_UPSERT_CUSTOMER, [_customer_params(row) for row in rows])

    def upsert_orders(self, rows: Iterable[CrmOrder]) -> int:
        return self._run(_UPSERT_ORDER, [_order_params(row) for row in rows])

    def delete_orders(self, order_ids: Iterable[int]) -> int:
        return self._run(_DELETE_ORDER, [(order_id,) for order_id in order_ids])

    def delete_customers(self, customer_ids: Iterable[int]) -> int:
        return self._run(
            "DELETE FROM customers WHERE customer_id = %s", [(customer_id,) for customer_id in customer_ids]
        )

    def apply(self, changes: Sequence[OrderChange]) -> int:
        """Apply order changes in order, in one transaction (one binlog commit).

        Consecutive upserts go as one multi-row statement (and consecutive deletes as another), which is
        what lets one connection write thousands of changes a second; the order of the changes holds.
        """
        if not changes:
            return 0
        try:
            with self._connection.cursor() as cursor:
                for kind, run in itertools.groupby(changes, key=lambda change: change.kind):
                    if kind == "delete":
                        cursor.executemany(_DELETE_ORDER, [(change.order_id,) for change in run])
                    else:
                        cursor.executemany(_UPSERT_ORDER, [_order_params(_row_of(change)) for change in run])
            self._connection.commit()
        except pymysql.MySQLError as error:
            self._connection.rollback()
            raise CrmError(f"the CRM refused {len(changes)} order changes: {error}") from error
        return len(changes)

    def next_order_id(self) -> int:
        """One more than the highest order id (1 for an empty table)."""
        return self._scalar("SELECT COALESCE(MAX(order_id), 0) + 1 FROM orders")

    def count(self, table: Literal["customers", "orders"]) -> int:
        return self._scalar(f"SELECT COUNT(*) FROM {table}")

    def _scalar(self, query: str) -> int:
        try:
            with self._connection.cursor() as cursor:
                cursor.execute(query)
                row = cursor.fetchone()
            self._connection.commit()  # end the read's snapshot, so the next read sees new rows
        except pymysql.MySQLError as error:
            raise CrmError(f"the CRM refused a query: {error}") from error
        if row is None:
            raise CrmError(f"no result from {query!r}")
        return int(row[0])
