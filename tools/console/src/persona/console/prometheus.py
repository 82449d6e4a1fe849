"""The console's one reader of Prometheus: instant queries through the HTTP API, behind a Protocol.

Every query of a page is evaluated at the same ``at`` (``time=`` of ``/api/v1/query``), so the page is
one consistent picture that anyone can re-check with the same queries at that time.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Protocol

from persona.console.views import Sample


class PrometheusError(RuntimeError):
    """Prometheus could not answer (unreachable, or the query failed); the message says which."""


class PrometheusReader(Protocol):
    def instant(self, promql: str, at: float) -> list[Sample]:
        """The samples of ``promql`` (an instant vector) evaluated at ``at`` (Unix seconds)."""
        ...


class HttpPrometheus:
    """Prometheus's HTTP API at ``base_url`` (e.g. ``http://127.0.0.1:9090``)."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def instant(self, promql: str, at: float) -> list[Sample]:
        query = urllib.parse.urlencode({"query": promql, "time": f"{at:.3f}"})
        url = f"{self.base_url}/api/v1/query?{query}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace").strip()
            raise PrometheusError(f"Prometheus answered {error.code} to {promql!r}: {detail[:300]}") from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise PrometheusError(f"Prometheus at {self.base_url} is unreachable: {reason}") from None
        if body.get("status") != "success":
            raise PrometheusError(f"query {promql!r} failed: {body.get('errorType')}: {body.get('error')}")
        return samples_from_response(body["data"], promql)


def samples_from_response(data: dict[str, object], promql: str) -> list[Sample]:
    """The ``data`` of a ``/api/v1/query`` answer as samples (a scalar is one sample without labels)."""
    result = data.get("result")
    if data.get("resultType") == "scalar" and isinstance(result, list):
        return [Sample(labels={}, value=float(result[1]))]
    if data.get("resultType") != "vector" or not isinstance(result, list):
        raise PrometheusError(f"query {promql!r} returned a {data.get('resultType')}, not a vector")
    return [Sample(labels=dict(item["metric"]), value=float(item["value"][1])) for item in result]
