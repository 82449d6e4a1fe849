"""The CRM's tables (DESIGN §4b and §3): what `persona stack init` creates and the RFM job reads.

Times are DATETIME(3) in UTC: the local server runs with ``time_zone = '+00:00'`` and every client
of ours sets its session to UTC, so a value is the same instant whoever reads it.
"""

from __future__ import annotations

ORDER_STATUSES: tuple[str, ...] = ("PLACED", "PAID", "SHIPPED", "CANCELLED", "REFUNDED")
# DESIGN §3: an order counts for RFM while its status is one of these.
COUNTED_STATUSES: tuple[str, ...] = ("PAID", "SHIPPED")

CUSTOMERS_DDL = """CREATE TABLE IF NOT EXISTS customers (
  customer_id BIGINT NOT NULL PRIMARY KEY,
  email VARCHAR(255) NULL,
  created_at DATETIME(3) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""

ORDERS_DDL = """CREATE TABLE IF NOT EXISTS orders (
  order_id BIGINT NOT NULL PRIMARY KEY,
  customer_id BIGINT NOT NULL,
  status VARCHAR(16) NOT NULL,
  total_amount DECIMAL(12,2) NOT NULL,
  currency CHAR(3) NOT NULL,
  order_time DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  KEY orders_by_customer (customer_id),
  KEY orders_by_time (order_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""

TABLES_DDL: tuple[str, ...] = (CUSTOMERS_DDL, ORDERS_DDL)
TABLES: tuple[str, ...] = ("customers", "orders")
