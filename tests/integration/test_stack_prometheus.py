"""The stack's real Prometheus: healthy, the repo's alert rules loaded and evaluated, and the targets of
file_sd files dropped under PERSONA_HOME scraped (here Prometheus itself, and a dead endpoint)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from persona.localstack import StackSettings, probe, status
from persona.localstack.prometheus import (
    active_targets,
    query,
    remove_target,
    rule_groups,
    write_target,
)

pytestmark = pytest.mark.integration

# file_sd's re-read interval (10 s; inotify usually sooner), a 5 s scrape and a 15 s evaluation.
DISCOVERY_TIMEOUT = 60.0


def poll(what: str, check: Callable[[], bool], timeout: float = DISCOVERY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)  # poll interval, not a wait for a result


@pytest.fixture
def target_name(stack: StackSettings, unique_name: Callable[[str], str]) -> Iterator[str]:
    name = unique_name("test")
    yield name
    remove_target(stack, name)


def _repo_alerts(stack: StackSettings) -> dict[str, str]:
    """Alert name -> expression, as written in the repo's rule files."""
    alerts = {}
    for path in stack.prometheus_rules_dir.glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            alerts.update({rule["alert"]: rule["expr"] for rule in group["rules"]})
    return alerts


def test_prometheus_is_healthy_on_its_port(stack: StackSettings) -> None:
    healthy, detail = probe(stack, "prometheus")
    assert healthy, detail
    assert "Prometheus 2." in detail
    [service] = [s for s in status(stack) if s.name == "prometheus"]
    assert (service.port, service.healthy) == (stack.prometheus_port, True)
    assert service.pid is not None
    assert (stack.prometheus_dir / "data").is_dir()


def test_the_repo_alert_rules_are_loaded_and_evaluated(stack: StackSettings) -> None:
    expected = _repo_alerts(stack)
    assert len(expected) >= 6

    def loaded() -> dict[str, dict[str, object]]:
        return {
            rule["name"]: rule
            for group in rule_groups(stack)
            for rule in group["rules"]
            if rule["type"] == "alerting"
        }

    assert set(loaded()) == set(expected)
    files = {Path(group["file"]) for group in rule_groups(stack)}
    assert files == set(stack.prometheus_rules_dir.glob("*.yml"))
    # Evaluated at least once, without error, against the live TSDB.
    poll("every rule to be evaluated", lambda: all(r["health"] == "ok" for r in loaded().values()))
    for name, rule in loaded().items():
        # Prometheus prints the parsed expression with its own spacing.
        assert "".join(str(rule["query"]).split()) == "".join(expected[name].split()), name
        assert str(rule["annotations"]["runbook_url"]).endswith("#" + name.lower())  # type: ignore[index]


def test_a_target_file_under_home_is_scraped_and_its_removal_stops_it(
    stack: StackSettings, target_name: str
) -> None:
    path = write_target(stack, target_name, [f"127.0.0.1:{stack.prometheus_port}"], {"flow": target_name})
    assert path.parent == stack.prometheus_targets_dir
    assert path.is_relative_to(stack.home)
    selector = f'{{job="persona", flow="{target_name}"}}'
    poll(
        "Prometheus to scrape itself through the dropped target file",
        lambda: [s.value for s in query(stack, f"up{selector}")] == [1.0],
    )
    # Its metrics are there with the target file's labels: e.g. Prometheus's build info.
    [build] = query(stack, f"prometheus_build_info{selector}")
    assert build.labels["instance"] == f"127.0.0.1:{stack.prometheus_port}"
    assert build.value == 1.0

    assert remove_target(stack, target_name)
    poll(
        "the target to leave Prometheus's active targets",
        lambda: not [t for t in active_targets(stack) if t["labels"].get("flow") == target_name],
    )


def test_an_unreachable_target_is_down_and_the_flow_down_alert_goes_pending(
    stack: StackSettings, target_name: str
) -> None:
    with socket.socket() as closed:  # a port nothing listens on once this socket is closed
        closed.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{closed.getsockname()[1]}"
    write_target(stack, target_name, [dead], {"flow": target_name})
    poll(
        "the dead target to be scraped as down",
        lambda: [s.value for s in query(stack, f'up{{job="persona", flow="{target_name}"}}')] == [0.0],
    )

    def flow_down_alert() -> list[str]:
        return [
            alert["state"]
            for group in rule_groups(stack)
            for rule in group["rules"]
            if rule["name"] == "PersonaFlowDown"
            for alert in rule.get("alerts", [])
            if alert["labels"].get("flow") == target_name
        ]

    poll("PersonaFlowDown to become pending for the dead target", lambda: bool(flow_down_alert()))
    assert flow_down_alert()[0] in {"pending", "firing"}
