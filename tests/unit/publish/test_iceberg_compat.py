"""persona.iceberg.compat: the ``last-column-id`` Nessie 0.99 needs on an ``add-schema`` update (pyiceberg
0.12 omits it), added to exactly those commits. The schema change through the real Nessie and Trino is
tests/integration/test_trino_sql.py's."""

from __future__ import annotations

import json

from persona.iceberg.compat import field_ids, with_last_column_id

ADD_SCHEMA = {
    "identifier": {"namespace": ["persona"], "name": "marketing_segments"},
    "requirements": [{"type": "assert-current-schema-id", "current-schema-id": 0}],
    "updates": [
        {
            "action": "add-schema",
            "schema": {
                "type": "struct",
                "schema-id": 1,
                "fields": [
                    {"id": 1, "name": "customer_id", "type": "long", "required": True},
                    {
                        "id": 3,
                        "name": "recommendation",
                        "type": {
                            "type": "list",
                            "element-id": 9,
                            "element": "string",
                            "element-required": False,
                        },
                        "required": False,
                    },
                    {"id": 10, "name": "channel_preference", "type": "string", "required": False},
                ],
            },
        },
        {"action": "set-current-schema", "schema-id": -1},
    ],
}


def test_an_add_schema_update_gets_the_highest_field_id_as_last_column_id() -> None:
    fixed = json.loads(with_last_column_id(json.dumps(ADD_SCHEMA).encode()))
    assert fixed["updates"][0]["last-column-id"] == 10
    # Nothing else changes.
    del fixed["updates"][0]["last-column-id"]
    assert fixed == ADD_SCHEMA


def test_nested_ids_count() -> None:
    schema = {"fields": [{"id": 2, "type": {"type": "map", "key-id": 14, "value-id": 15}}]}
    assert max(field_ids(schema)) == 15


def test_other_bodies_go_out_unchanged() -> None:
    append = json.dumps(
        {"updates": [{"action": "add-snapshot", "snapshot": {"snapshot-id": 7}}], "requirements": []}
    ).encode()
    assert with_last_column_id(append) is append
    given = {**ADD_SCHEMA, "updates": [{**ADD_SCHEMA["updates"][0], "last-column-id": 12}]}
    body = json.dumps(given).encode()
    assert with_last_column_id(body) is body
    assert with_last_column_id(b'not json "add-schema"') == b'not json "add-schema"'
