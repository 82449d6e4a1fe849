"""Where the publication writes: Nessie, and main also into the history catalog unless switched off."""

from __future__ import annotations

from pathlib import Path

import pytest

from persona.publish import PublishSettings
from persona.publish.history import HistoryOutcome
from persona.publish.publisher import PublishReport
from persona.settings import SettingsError


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PERSONA_WAREHOUSE": str(tmp_path / "warehouse"), **extra}


def test_the_history_catalog_is_the_local_stack_s_by_default(tmp_path: Path) -> None:
    settings = PublishSettings.from_env(_env(tmp_path, PERSONA_ICEBERG_REST_PORT="28181"))
    assert settings.history_url == "http://127.0.0.1:28181"


def test_the_history_catalog_url_can_be_given_or_switched_off(tmp_path: Path) -> None:
    given = PublishSettings.from_env(_env(tmp_path, PERSONA_ICEBERG_REST_URL="http://catalog:8181"))
    assert given.history_url == "http://catalog:8181"
    off = PublishSettings.from_env(_env(tmp_path, PERSONA_HISTORY_CATALOG="off"))
    assert off.history_url is None
    with pytest.raises(SettingsError, match="PERSONA_HISTORY_CATALOG"):
        PublishSettings.from_env(_env(tmp_path, PERSONA_HISTORY_CATALOG="maybe"))


def test_the_report_says_what_the_history_catalog_did() -> None:
    report = PublishReport(
        "main",
        [],
        history=[
            HistoryOutcome("marketing_segments", "appended", 11, "rfm-20261201"),
            HistoryOutcome("customer_profile", "unchanged", 12),
            HistoryOutcome("segment_decisions", "not tagged", None, "rfm-20261130"),
        ],
    )
    lines = report.lines()
    assert "history main: marketing_segments: appended snapshot 11, tagged rfm-20261201" in lines
    assert "history main: customer_profile: unchanged (snapshot 12)" in lines
    assert any(line.startswith("history main: segment_decisions: tag rfm-20261130 not set") for line in lines)
