"""Where ``persona logic replay`` reads its inputs: the retained Kafka input topics and Cassandra's stock."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from persona.inventory import CassandraInventory
from persona.kafka.consumers import read_topic
from persona.logic.work import RetainedInput, parse_retained
from persona.settings import PipelineSettings


def read_retained(settings: PipelineSettings, timeout: float = 600.0) -> RetainedInput:
    """``behavior_events`` and ``orders_cdc`` from their retained start to their end as of now."""
    config = settings.kafka_security.client_config()
    topics = settings.topics
    events = read_topic(settings.kafka_bootstrap, topics.behavior_events, timeout=timeout, config=config)
    orders = read_topic(settings.kafka_bootstrap, topics.orders_cdc, timeout=timeout, config=config)
    return parse_retained(
        (r.value for r in events), (r.value for r in orders), int(time.time() * 1000), settings
    )


def cassandra_stock(settings: PipelineSettings) -> Callable[[set[str]], Mapping[str, int | None]]:
    """Sellable stock of SKUs as the inventory projection holds it now (a SKU it lacks: unknown)."""

    def read(skus: set[str]) -> Mapping[str, int | None]:
        store = CassandraInventory(
            settings.cassandra_hosts,
            settings.cassandra_port,
            keyspace=settings.inventory_keyspace,
            table=settings.inventory_table,
            credentials=settings.cassandra_security.credentials(),
            ssl_context=settings.cassandra_security.ssl_context(),
        )
        try:
            levels = store.read_many(sorted(skus))
        finally:
            store.close()
        return {sku: (levels[sku].sellable if sku in levels else None) for sku in skus}

    return read
