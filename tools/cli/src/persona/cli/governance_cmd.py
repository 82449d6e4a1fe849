"""`persona erase` (GDPR erasure) and `persona schema add-column` (schema evolution while the flows run).

``erase`` writes an erasure request to the ``erasures`` topic; the running enrich flow forgets the
customer and writes the tombstone to ``marketing_segments_rt``, and the sink deletes the customer's rows
and records the erasure in the ``erasures`` table, which the command waits for (docs/erasure.md).
``schema add-column`` is Paimon's ``ALTER TABLE ... ADD COLUMN``; the sink follows it at its next commit.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
import uuid
from typing import Any

import orjson

from persona.cli.generate_cmd import local_pipeline_env
from persona.contracts import ErasureRequest, erasure_to_json
from persona.kafka import make_producer, produce
from persona.localstack import StackSettings
from persona.paimon import PaimonError, PaimonWarehouse, add_column
from persona.publish import Publisher, PublishError, PublishSettings
from persona.settings import PipelineSettings


def register(subparsers: Any) -> None:
    erase = subparsers.add_parser("erase", help="GDPR erasure of a customer from every current table")
    erase.add_argument("customer_id", type=int)
    erase.add_argument("--reason", required=True, help="why (kept for good: no personal data)")
    erase.add_argument("--by", default=None, help="who asks (default: the OS user)")
    erase.add_argument(
        "--wait", type=float, default=120.0, help="seconds to wait for the sink's record (0: do not wait)"
    )
    erase.set_defaults(func=run_erase)

    schema = subparsers.add_parser("schema", help="evolve a table's schema while the flows run")
    sub = schema.add_subparsers(dest="schema_command", metavar="SUBCOMMAND", required=True)
    add = sub.add_parser("add-column", help="ALTER TABLE t ADD COLUMN c TYPE (nullable; old rows read null)")
    add.add_argument("table")
    add.add_argument("column")
    add.add_argument("type", help="STRING, BIGINT, INT, DOUBLE, BOOLEAN, DATE or TIMESTAMP(3)")
    add.set_defaults(func=run_add_column)


def _env() -> dict[str, str]:
    stack = StackSettings.from_env(os.environ)
    return {**os.environ, **local_pipeline_env(stack)}


def _settings() -> PipelineSettings:
    return PipelineSettings.from_env(_env())


def erasure_request(customer_id: int, reason: str, by: str | None, now_ms: int) -> ErasureRequest:
    return ErasureRequest(
        erasure_id=str(uuid.uuid4()),
        customer_id=customer_id,
        reason=reason,
        requested_by=by or getpass.getuser(),
        requested_at_ms=now_ms,
    )


def send_erasure(settings: PipelineSettings, request: ErasureRequest) -> None:
    """Write ``request`` to the ``erasures`` topic, keyed by the customer, and wait for Kafka's ack."""
    producer = make_producer(settings.kafka_bootstrap, settings.kafka_security.client_config())
    produce(producer, settings.topics.erasures, erasure_to_json(request), str(request.customer_id).encode())
    if producer.flush(30) != 0:
        raise RuntimeError(f"Kafka did not acknowledge the erasure request on {settings.topics.erasures}")


def erasure_record(settings: PipelineSettings, erasure_id: str) -> dict[str, Any] | None:
    """The ``erasures`` table's row of ``erasure_id``, once the sink has applied it."""
    warehouse = PaimonWarehouse(settings.warehouse)
    rows = warehouse.read_arrow(settings.table("erasures")).to_pylist()
    return next((row for row in rows if row["erasure_id"] == erasure_id), None)


def publish_erasure() -> int:
    """The erasure reaches the Iceberg publication at once: main's tables are published again without
    the customer (README "The Iceberg publication"); 1 when that failed."""
    publish = PublishSettings.from_env(_env())
    if not publish.enabled:
        return 0
    try:
        report = Publisher(publish).publish()
    except PublishError as error:
        print(
            f"persona: the erasure is applied to the Paimon tables; publishing them into Nessie failed: {error}\n"
            "  when Nessie is up: `persona publish`",
            file=sys.stderr,
        )
        return 1
    for line in report.lines():
        print(line)
    return 0


def run_erase(args: argparse.Namespace) -> int:
    settings = _settings()
    request = erasure_request(args.customer_id, args.reason, args.by, int(time.time() * 1000))
    send_erasure(settings, request)
    print(
        f"erasure {request.erasure_id} of customer {request.customer_id} sent to {settings.topics.erasures}"
    )
    if args.wait <= 0:
        return 0
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        record = erasure_record(settings, request.erasure_id)
        if record is not None:
            code = publish_erasure()
            print(orjson.dumps(record, default=str).decode())
            return code
        time.sleep(1.0)
    print(
        f"persona: erasure {request.erasure_id} not applied within {args.wait:.0f} s: are the enrich and "
        "sink flows running? It is applied when they next run (the request stays on the topic).",
        file=sys.stderr,
    )
    return 1


def run_add_column(args: argparse.Namespace) -> int:
    settings = _settings()
    warehouse = PaimonWarehouse(settings.warehouse)
    try:
        schema_id = add_column(warehouse, settings.table(args.table), args.column, args.type)
    except PaimonError as error:
        print(f"persona: {error}", file=sys.stderr)
        return 1
    print(
        f"{warehouse.identifier(settings.table(args.table))}: column {args.column} {args.type.upper()} added "
        f"(schema {schema_id}); the sink writes it from its next commit"
    )
    return 0
