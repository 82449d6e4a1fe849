"""The local Prometheus: its HTTP API (readiness, queries, loaded rules) and the file_sd target files
through which flows started locally (demo, bench, ``persona run``) get scraped.

Prometheus itself is a child of ``persona stack up`` (see ``stack.py``); its alert rules are the repo's
``infra/prometheus/rules``.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from persona.localstack.errors import StackError
from persona.localstack.procs import private_dir
from persona.localstack.settings import StackSettings

_TARGET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Sample:
    """One element of an instant query's vector: its labels and value."""

    labels: Mapping[str, str]
    value: float


def _get(settings: StackSettings, path: str, timeout: float) -> bytes:
    url = settings.prometheus_url + path
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace").strip()
        raise StackError(f"Prometheus answered {error.code} to GET {path}: {detail[:300]}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise StackError(f"Prometheus at {settings.prometheus_url} is unreachable: {reason}") from None


def _api(settings: StackSettings, path: str, timeout: float) -> Any:
    body = json.loads(_get(settings, path, timeout))
    if body.get("status") != "success":
        raise StackError(f"Prometheus GET {path} failed: {body.get('errorType')}: {body.get('error')}")
    return body["data"]


def is_ready(settings: StackSettings, timeout: float = 3.0) -> bool:
    """Whether /-/ready answers 200: the TSDB is open and the server serves queries."""
    try:
        _get(settings, "/-/ready", timeout)
    except StackError:
        return False
    return True


def query(settings: StackSettings, promql: str, timeout: float = 5.0) -> list[Sample]:
    """An instant query whose result is a vector (the usual case): its samples."""
    data = _api(settings, "/api/v1/query?" + urllib.parse.urlencode({"query": promql}), timeout)
    if data["resultType"] == "scalar":
        return [Sample(labels={}, value=float(data["result"][1]))]
    if data["resultType"] != "vector":
        raise StackError(f"query {promql!r} returned a {data['resultType']}, not a vector")
    return [Sample(labels=item["metric"], value=float(item["value"][1])) for item in data["result"]]


def query_range(
    settings: StackSettings, promql: str, start_s: float, end_s: float, step_s: float, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """A range query (GET /api/v1/query_range) from ``start_s`` to ``end_s`` (epoch seconds) every
    ``step_s``: its matrix as Prometheus gives it, one ``{"metric": labels, "values": [[t, "v"], …]}``
    per series (empty when nothing matched)."""
    params = {"query": promql, "start": f"{start_s:.3f}", "end": f"{end_s:.3f}", "step": f"{step_s:g}"}
    data = _api(settings, "/api/v1/query_range?" + urllib.parse.urlencode(params), timeout)
    if data["resultType"] != "matrix":
        raise StackError(f"range query {promql!r} returned a {data['resultType']}, not a matrix")
    result: list[dict[str, Any]] = data["result"]
    return result


def rule_groups(settings: StackSettings, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The rule groups Prometheus loaded (GET /api/v1/rules), each with its file, name and rules."""
    groups: list[dict[str, Any]] = _api(settings, "/api/v1/rules", timeout)["groups"]
    return groups


def active_targets(settings: StackSettings, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The targets being scraped (GET /api/v1/targets), each with labels, scrapeUrl, health, lastError."""
    targets: list[dict[str, Any]] = _api(settings, "/api/v1/targets?state=active", timeout)["activeTargets"]
    return targets


def probe(settings: StackSettings, timeout: float = 3.0) -> tuple[bool, str]:
    """Health as ``persona stack status`` shows it: ready, answering a query, with its rules loaded."""
    if not is_ready(settings, timeout):
        return False, f"{settings.prometheus_url}/-/ready does not answer 200 (starting?)"
    try:
        version = _api(settings, "/api/v1/status/buildinfo", timeout)["version"]
        up = query(settings, "up", timeout)
        rules = sum(len(group["rules"]) for group in rule_groups(settings, timeout))
    except StackError as error:
        return False, str(error)
    healthy_targets = sum(1 for sample in up if sample.value == 1)
    return True, (
        f"Prometheus {version.split('+')[0]}, {rules} rules, {healthy_targets}/{len(up)} targets up "
        f"({settings.prometheus_url})"
    )


def target_file(settings: StackSettings, name: str) -> Path:
    if not _TARGET_NAME.fullmatch(name):
        raise StackError(f"invalid scrape target name {name!r}: use letters, digits, '_', '.', '-'")
    return settings.prometheus_targets_dir / f"{name}.json"


def write_target(
    settings: StackSettings, name: str, addresses: Sequence[str], labels: Mapping[str, str] | None = None
) -> Path:
    """Have Prometheus scrape ``addresses`` (host:port, path /metrics) under ``name``; returns the file.

    ``labels`` are added to every series scraped there; a flow sets ``flow`` (its name), which the
    alerts name. Replaces an earlier file of the same name. Written to a temporary name and renamed
    into place, so Prometheus never reads half a file.
    """
    path = target_file(settings, name)
    private_dir(path.parent)
    entry = [{"targets": list(addresses), "labels": dict(labels or {})}]
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(entry, indent=2) + "\n")
    os.replace(temporary, path)
    return path


def remove_target(settings: StackSettings, name: str) -> bool:
    """Stop scraping ``name`` (a flow stopped on purpose is not "down"); True when it had a file."""
    path = target_file(settings, name)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed
