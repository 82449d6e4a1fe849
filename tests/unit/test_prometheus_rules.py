"""The repo's alert rules: valid (promtool check rules), unit-tested (promtool test rules, every alert
firing in at least one case), and each with a runbook entry its annotation links to."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "infra" / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS / "tests").glob("*.yml"))
RUNBOOKS = ROOT / "docs" / "runbooks.md"


def _promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail(
            "promtool was not found: it comes with Debian's prometheus, which ./dev installs "
            "(apt-get install prometheus)",
            pytrace=False,
        )
    return promtool


def _alerts() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def _anchors(markdown: str) -> set[str]:
    # GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_there_are_rules_and_tests() -> None:
    assert RULE_FILES and TEST_FILES
    assert {rule["alert"] for rule in _alerts()} >= {
        "PersonaPaimonFreshnessP99High",
        "PersonaConsumerLagHigh",
        "PersonaDlqRateHigh",
        "PersonaFlowDown",
        "PersonaCassandraUnreachable",
        "PersonaPaimonCommitFailing",
    }


def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run(
        [_promtool(), "check", "rules", *map(str, RULE_FILES)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_pass_their_promtool_unit_tests() -> None:
    result = subprocess.run(
        [_promtool(), "test", "rules", *map(str, TEST_FILES)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=PROMETHEUS / "tests",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_test_where_it_fires() -> None:
    fired = {
        case["alertname"]
        for path in TEST_FILES
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    missing = sorted({rule["alert"] for rule in _alerts()} - fired)
    assert not missing, f"alerts without a promtool test case in which they fire: {missing}"


def test_every_alert_links_its_runbook_entry() -> None:
    anchors = _anchors(RUNBOOKS.read_text())
    for rule in _alerts():
        annotations = rule.get("annotations", {})
        assert {"summary", "description", "runbook_url"} <= set(annotations), rule["alert"]
        page, _, anchor = annotations["runbook_url"].partition("#")
        assert page == "docs/runbooks.md", rule["alert"]
        assert anchor == rule["alert"].lower(), rule["alert"]
        assert anchor in anchors, f"docs/runbooks.md has no section for {rule['alert']}"
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
