"""`persona crm seed`: fill the CRM (the stack's MariaDB) with customers and an order history.

Deterministic: the same ``--customers``, ``--history-days``, ``--seed`` and ``--until`` give the same
rows (customers 1..N, orders 1..M), written as upserts, so seeding twice changes nothing. Order
changes made afterwards (the demo, the tests) reach ``orders_cdc`` through the binlog and Debezium;
the seed's own rows do too, as the connector's snapshot or stream.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from persona.crm import CrmError, MariaDbCrm
from persona.datagen.crm_history import HistoryConfig, history_customers, history_orders
from persona.localstack import StackError, StackSettings
from persona.localstack.crm_schema import crm_endpoint

log = logging.getLogger(__name__)

BATCH_ROWS = 10_000
T = TypeVar("T")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("crm", help="the CRM database (MariaDB): seed it with history")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    seed = actions.add_parser("seed", help="customers and a deterministic order history (upserts)")
    seed.add_argument("--customers", type=int, default=10_000, help="customers 1..N (default 10,000)")
    seed.add_argument("--history-days", type=int, default=400, help="days of order history (default 400)")
    seed.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    seed.add_argument(
        "--mean-orders", type=float, default=8.0, help="orders per customer on average (default 8)"
    )
    seed.add_argument(
        "--until",
        type=dt.date.fromisoformat,
        default=None,
        help="the history ends at the start of this UTC day (default: today)",
    )
    seed.set_defaults(func=run_seed)


def _batches(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def run_seed(args: argparse.Namespace) -> int:
    until = args.until or dt.datetime.now(dt.UTC).date()
    end_ms = int(dt.datetime.combine(until, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)
    try:
        config = HistoryConfig(
            seed=args.seed,
            customers=args.customers,
            history_days=args.history_days,
            mean_orders=args.mean_orders,
            end_ms=end_ms,
        )
        stack = StackSettings.from_env(os.environ)
        started = time.monotonic()
        with MariaDbCrm(crm_endpoint(stack)) as crm:
            customers = 0
            for customer_batch in _batches(history_customers(config), BATCH_ROWS):
                customers += crm.upsert_customers(customer_batch)
            log.info("%d customers written", customers)
            orders = 0
            for order_batch in _batches(history_orders(config), BATCH_ROWS):
                orders += crm.upsert_orders(order_batch)
                if orders % 200_000 < BATCH_ROWS:
                    log.info("%d orders written (%.0f/s)", orders, orders / (time.monotonic() - started))
    except (ValueError, StackError, CrmError) as error:
        print(f"crm seed: {error}", file=sys.stderr)
        return 1
    print(
        f"seeded {customers:,} customers and {orders:,} orders ({args.history_days} days up to {until}) "
        f"into {stack.crm_database} in {time.monotonic() - started:.1f}s"
    )
    return 0
