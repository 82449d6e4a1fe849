"""The cdc flow's parser on Debezium's real output, byte for byte as the MariaDB connector wrote it.

data/debezium_mariadb_orders.jsonl was captured from the local stack (Debezium 3.5.0.Final on Kafka
Connect 4.1.1, MariaDB 10.11) with the connector config of persona.localstack.connect: one order
inserted, paid and deleted, once with the JSON converter's schemas off (the stack's setting) and once
with them on ({"schema": ..., "payload": envelope}).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from persona.contracts import DEFAULT_TIME_WINDOW, Ok, parse_order_changes

CAPTURED = Path(__file__).parent / "data" / "debezium_mariadb_orders.jsonl"
# About when the records were captured: their times must lie inside the plausibility window.
CAPTURED_AT_MS = 1_795_921_600_000


def _records(schemas: bool) -> list[tuple[str, bytes]]:
    lines = [json.loads(line) for line in CAPTURED.read_text().splitlines()]
    return [(line["key"], line["value"].encode()) for line in lines if line["schemas"] is schemas]


@pytest.mark.parametrize("schemas", [False, True], ids=["plain", "with-schemas"])
def test_insert_update_delete_parse_to_the_order_facts_of_the_contract(schemas: bool) -> None:
    records = _records(schemas)
    assert len(records) == 3
    facts = []
    for key, value in records:
        result = parse_order_changes(value, DEFAULT_TIME_WINDOW, CAPTURED_AT_MS)
        assert isinstance(result, Ok), result
        [fact] = result.value
        assert str(fact.order_id) == key  # keyed by the bare order_id
        facts.append(fact)
    assert [(f.op, f.status, f.deleted) for f in facts] == [
        ("c", "PLACED", False),
        ("u", "PAID", False),
        ("d", "PAID", True),
    ]
    assert {f.total_amount for f in facts} == {Decimal("1234.50")}
    assert {(f.customer_id, f.currency, f.order_time_ms) for f in facts} == {
        (424242, "USD", 1_795_900_000_123)
    }
    assert facts[1].updated_at_ms == 1_795_900_060_000
    assert facts[0].ts_ms <= facts[1].ts_ms <= facts[2].ts_ms


def test_both_converter_settings_give_the_same_facts_but_for_the_order_id() -> None:
    def parsed(schemas: bool) -> list[tuple[object, ...]]:
        out = []
        for _key, value in _records(schemas):
            result = parse_order_changes(value, DEFAULT_TIME_WINDOW, CAPTURED_AT_MS)
            assert isinstance(result, Ok)
            [f] = result.value
            out.append(
                (f.op, f.customer_id, f.status, f.total_amount, f.order_time_ms, f.updated_at_ms, f.deleted)
            )
        return out

    assert parsed(False) == parsed(True)
    assert b'"schema"' in _records(True)[0][1]
    assert b'"schema"' not in _records(False)[0][1]
