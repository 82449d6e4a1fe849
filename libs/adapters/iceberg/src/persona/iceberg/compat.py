"""What Nessie 0.99's Iceberg REST catalog needs on the wire that pyiceberg 0.12 no longer sends.

A schema change (``persona schema add-column`` reaching the publication: ``replace_contents`` adds the
new columns first) is a table commit with an ``add-schema`` update. The REST spec deprecated that
update's ``last-column-id`` and pyiceberg 0.12 omits it; Nessie 0.99 cannot read the update without it
and answers ``HTTP 400 Bad Request`` (wrapped in a 500, so pyiceberg raises CommitStateUnknownException)
— measured on the local stack. :class:`LastColumnIdAdapter`, mounted on the catalog's HTTP session by
``rest_catalog``, adds the field (the highest field id of the added schema, what the spec defined it
as) to a commit that lacks it; every other request goes out unchanged, and a catalog that reads the
field as deprecated ignores it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

_ID_KEYS = ("id", "element-id", "key-id", "value-id")


def field_ids(node: Any) -> Iterator[int]:
    """Every field id in an Iceberg schema's JSON (nested structs, lists and maps included)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, int):
                yield value
            else:
                yield from field_ids(value)
    elif isinstance(node, list):
        for item in node:
            yield from field_ids(item)


def with_last_column_id(body: bytes) -> bytes:
    """A table commit's JSON body with ``last-column-id`` on each ``add-schema`` update lacking it;
    any other body is returned as it is."""
    if b'"add-schema"' not in body:
        return body
    try:
        request = json.loads(body)
    except ValueError:
        return body
    updates = request.get("updates") if isinstance(request, dict) else None
    if not isinstance(updates, list):
        return body
    changed = False
    for update in updates:
        if (
            isinstance(update, dict)
            and update.get("action") == "add-schema"
            and "last-column-id" not in update
        ):
            ids = list(field_ids(update.get("schema", {}).get("fields", [])))
            update["last-column-id"] = max(ids, default=0)
            changed = True
    return json.dumps(request, separators=(",", ":")).encode() if changed else body


class LastColumnIdAdapter(HTTPAdapter):
    """The default HTTP transport, with :func:`with_last_column_id` applied to POST bodies."""

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        if request.method == "POST" and request.body:
            body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
            fixed = with_last_column_id(body)
            if fixed is not body:
                request.body = fixed
                request.headers["Content-Length"] = str(len(fixed))
        return super().send(request, *args, **kwargs)
