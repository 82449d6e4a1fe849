"""`persona generate`: seeded data into files (for replay) or into the running stack."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import time
from pathlib import Path
from typing import Any

from persona.crm import MariaDbCrm
from persona.datagen import DataGenerator, GeneratorConfig
from persona.datagen.crm_history import HistoryConfig, history_customers
from persona.datagen.loaders import load_inventory, load_profiles, stream_to_kafka, write_files
from persona.inventory import CassandraInventory
from persona.localstack import StackSettings
from persona.localstack.crm_schema import crm_endpoint
from persona.paimon import PaimonWarehouse, ensure_tables
from persona.settings import PipelineSettings

log = logging.getLogger(__name__)


def add_generator_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--skus", type=int, default=500)
    parser.add_argument(
        "--order-fraction", type=float, default=0.05, help="share of records that are order changes"
    )
    parser.add_argument(
        "--malformed-fraction", type=float, default=0.01, help="share of records made malformed"
    )
    parser.add_argument("--duplicate-fraction", type=float, default=0.01, help="share of records sent twice")


def generator_config(args: argparse.Namespace, **extra: Any) -> GeneratorConfig:
    return GeneratorConfig(
        seed=args.seed,
        customers=args.customers,
        skus=args.skus,
        order_fraction=args.order_fraction,
        malformed_fraction=args.malformed_fraction,
        duplicate_fraction=args.duplicate_fraction,
        **extra,
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("generate", help="seeded customers, SKUs, events and order changes")
    sub = parser.add_subparsers(dest="generate_command", metavar="TARGET", required=True)

    files = sub.add_parser(
        "files", help="write events/orders/profiles/inventory JSON lines for `persona replay`"
    )
    add_generator_args(files)
    files.add_argument("--out", type=Path, required=True, help="output directory")
    files.add_argument("--records", type=int, default=10_000, help="events + order changes")
    files.add_argument("--start", default="2026-11-21T09:00:00Z", help="time of the first record")
    files.add_argument("--step-ms", type=float, default=1_000, help="time between records")
    files.set_defaults(func=run_files)

    stack = sub.add_parser(
        "stack", help="load profiles (Paimon) and inventory (Cassandra), then stream to Kafka"
    )
    add_generator_args(stack)
    stack.add_argument("--rate", type=float, default=500, help="records per second to Kafka")
    stack.add_argument("--seconds", type=float, default=30, help="how long to stream (0: load only)")
    stack.set_defaults(func=run_stack)


def run_files(args: argparse.Namespace) -> int:
    from persona.contracts import time_to_ms

    gen = DataGenerator(generator_config(args))
    start_ms = time_to_ms(args.start)
    paths = write_files(gen, args.out, gen.records(args.records, start_ms, args.step_ms), start_ms)
    counts = {name: path.read_bytes().count(b"\n") for name, path in paths.items()}
    print(", ".join(f"{name}: {n} lines" for name, n in counts.items()) + f" -> {args.out}")
    return 0


def seed_stores(gen: DataGenerator, settings: PipelineSettings) -> tuple[int, int]:
    warehouse = PaimonWarehouse(settings.warehouse)
    ensure_tables(settings.warehouse)
    profiles = load_profiles(gen, warehouse, settings.table("customer_profile"))
    store = CassandraInventory(
        settings.cassandra_hosts,
        settings.cassandra_port,
        keyspace=settings.inventory_keyspace,
        table=settings.inventory_table,
        credentials=settings.cassandra_security.credentials(),
        ssl_context=settings.cassandra_security.ssl_context(),
    )
    try:
        skus = load_inventory(gen, store, int(time.time() * 1000))
    finally:
        store.close()
    return profiles, skus


def seed_crm_customers(gen: DataGenerator, crm: MariaDbCrm) -> int:
    """The generator's customers 1..N in the CRM (upserts), created within the last 400 days, so the
    CRM knows every customer the demo's orders name (the nightly RFM job reads them)."""
    end_ms = int(dt.datetime.combine(gen.config.rfm_as_of, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)
    history = HistoryConfig(seed=gen.config.seed, customers=gen.config.customers, end_ms=end_ms)
    return crm.upsert_customers(history_customers(history))


def local_pipeline_env(stack: StackSettings) -> dict[str, str]:
    """The environment that points the flows and tools at the local stack."""
    return {
        "PERSONA_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "PERSONA_CASSANDRA_PORT": str(stack.cassandra_contact[1]),
        "PERSONA_WAREHOUSE": str(stack.warehouse),
    }


def run_stack(args: argparse.Namespace) -> int:
    stack = StackSettings.from_env(os.environ)
    settings = PipelineSettings.from_env({**os.environ, **local_pipeline_env(stack)})
    run_id = dt.datetime.now(dt.UTC).strftime("-%Y%m%d%H%M%S")
    gen = DataGenerator(generator_config(args, run_id=run_id, order_id_base=int(time.time()) * 1000))
    profiles, skus = seed_stores(gen, settings)
    log.info("loaded %d profiles into Paimon, %d SKUs into Cassandra", profiles, skus)
    # Order changes take the real path: statements on the CRM, then binlog -> Debezium -> orders_cdc.
    with MariaDbCrm(crm_endpoint(stack)) as crm:
        log.info("%d customers in the CRM", seed_crm_customers(gen, crm))
        if args.seconds <= 0:
            return 0
        stats = stream_to_kafka(
            gen,
            settings.kafka_bootstrap,
            settings.topics,
            rate=args.rate,
            seconds=args.seconds,
            kafka_config=settings.kafka_security.client_config(),
            on_progress=lambda s: log.info(
                "%d events, %d order changes (%.0f/s)", s.events, s.orders, s.rate
            ),
            crm=crm,
        )
    print(
        f"produced {stats.events} events to Kafka and wrote {stats.orders} order changes to the CRM "
        f"in {stats.seconds:.1f}s"
        + (f" ({stats.orders_skipped} malformed order records skipped)" if stats.orders_skipped else "")
    )
    return 0
