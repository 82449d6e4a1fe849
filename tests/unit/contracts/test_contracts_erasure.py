"""The erasure request of the ``erasures`` topic (persona.contracts.erasure)."""

from __future__ import annotations

import orjson

from persona.contracts import ERASURE_MARKER, ErasureRequest, Err, Ok, erasure_to_json, parse_erasure_request

REQUEST = ErasureRequest("e-1", 42, "GDPR art. 17, ticket 9", "dpo", 1_795_000_000_000)


def test_a_request_round_trips_and_starts_with_the_marker() -> None:
    raw = erasure_to_json(REQUEST)
    assert raw[:1] == ERASURE_MARKER
    assert orjson.loads(raw)["requested_at"] == "2026-11-18T11:06:40.000Z"
    assert parse_erasure_request(raw) == Ok(REQUEST)


def test_bad_requests_are_errors_with_a_reason() -> None:
    good = orjson.loads(erasure_to_json(REQUEST))
    cases = {
        "customer_id": {**good, "customer_id": 0},
        "reason": {**good, "reason": ""},
        "unknown field": {**good, "email": "a@b.c"},
        "requested_at": {**good, "requested_at": "yesterday"},
    }
    for what, value in cases.items():
        result = parse_erasure_request(orjson.dumps(value))
        assert isinstance(result, Err), what
    assert isinstance(parse_erasure_request(b"not json"), Err)
    assert isinstance(parse_erasure_request(b"{" + b" " * 9000 + b"}"), Err)
