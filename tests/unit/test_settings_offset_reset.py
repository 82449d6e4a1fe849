"""PERSONA_OFFSET_RESET: earliest by default, fail on request, nothing else (never `latest`)."""

from __future__ import annotations

import pytest

from persona.settings import PipelineSettings, SettingsError


def test_the_default_rereads_a_partition_rather_than_skipping_it() -> None:
    assert PipelineSettings.from_env({}).offset_reset == "earliest"


@pytest.mark.parametrize(("raw", "policy"), [("fail", "fail"), ("EARLIEST", "earliest"), (" fail ", "fail")])
def test_a_policy_is_read_from_the_environment(raw: str, policy: str) -> None:
    assert PipelineSettings.from_env({"PERSONA_OFFSET_RESET": raw}).offset_reset == policy


@pytest.mark.parametrize("raw", ["latest", "smallest", "none"])
def test_any_other_policy_is_refused_by_name(raw: str) -> None:
    with pytest.raises(SettingsError, match="PERSONA_OFFSET_RESET is not an offset reset policy"):
        PipelineSettings.from_env({"PERSONA_OFFSET_RESET": raw})
