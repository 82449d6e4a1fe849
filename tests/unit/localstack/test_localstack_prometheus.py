"""The local Prometheus's rendered config, command line, settings and file_sd target files (no server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from persona.localstack import StackError, StackSettings, configs
from persona.localstack.prometheus import remove_target, target_file, write_target
from persona.localstack.stack import SERVICES, START_ORDER, service_port


def test_config_loads_the_repo_rules_and_scrapes_the_target_files(settings: StackSettings) -> None:
    config = yaml.safe_load(configs.render_prometheus_yml(settings))
    assert config["rule_files"] == [str(settings.repo_root / "infra" / "prometheus" / "rules" / "*.yml")]
    [job] = config["scrape_configs"]
    assert job["job_name"] == configs.PROMETHEUS_JOB == "persona"
    [file_sd] = job["file_sd_configs"]
    assert file_sd["files"] == [str(settings.home / "prometheus" / "targets" / "*.json")]
    assert config["global"]["scrape_interval"] == "5s"


def test_the_server_listens_on_loopback_with_its_data_under_home(settings: StackSettings) -> None:
    command = configs.prometheus_command(settings)
    assert command[0] == "/usr/bin/prometheus"
    assert f"--config.file={settings.home / 'prometheus' / 'prometheus.yml'}" in command
    assert f"--storage.tsdb.path={settings.home / 'prometheus' / 'data'}" in command
    assert "--web.listen-address=127.0.0.1:29090" in command
    assert not [arg for arg in command if "lifecycle" in arg]


def test_prometheus_is_a_service_of_the_stack_with_its_own_port(settings: StackSettings) -> None:
    assert "prometheus" in SERVICES and "prometheus" in START_ORDER
    assert service_port(settings, "prometheus") == 29090
    assert settings.ports["prometheus"] == 29090
    assert settings.prometheus_url == "http://127.0.0.1:29090"
    with pytest.raises(StackError, match="distinct"):
        StackSettings(
            home=settings.home,
            warehouse=settings.warehouse,
            jar_cache=settings.jar_cache,
            repo_root=None,
            prometheus_port=9092,
        )


def test_port_and_binary_come_from_the_environment(tmp_path: Path) -> None:
    env = {"PERSONA_PROMETHEUS_PORT": "19090", "PERSONA_PROMETHEUS": "/opt/prom/prometheus", "PATH": ""}
    settings = StackSettings.from_env(env, cwd=tmp_path)
    assert (settings.prometheus_port, settings.prometheus) == (19090, "/opt/prom/prometheus")
    defaults = StackSettings.from_env({"PATH": ""}, cwd=tmp_path)
    assert (defaults.prometheus_port, defaults.prometheus) == (9090, "prometheus")
    with pytest.raises(StackError, match="PERSONA_PROMETHEUS_PORT"):
        StackSettings.from_env({"PERSONA_PROMETHEUS_PORT": "0", "PATH": ""}, cwd=tmp_path)


def test_a_target_file_is_file_sd_json_replaced_whole_and_removable(settings: StackSettings) -> None:
    path = write_target(settings, "enrich", ["127.0.0.1:9464"], {"flow": "enrich"})
    assert path == settings.prometheus_targets_dir / "enrich.json"
    assert json.loads(path.read_text()) == [{"targets": ["127.0.0.1:9464"], "labels": {"flow": "enrich"}}]
    write_target(settings, "enrich", ["127.0.0.1:9465"])
    assert json.loads(path.read_text()) == [{"targets": ["127.0.0.1:9465"], "labels": {}}]
    # Only finished files match the *.json pattern Prometheus reads.
    assert sorted(p.name for p in settings.prometheus_targets_dir.iterdir()) == ["enrich.json"]
    assert remove_target(settings, "enrich") is True
    assert remove_target(settings, "enrich") is False
    assert not path.exists()


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "with space"])
def test_target_names_cannot_leave_the_targets_directory(settings: StackSettings, name: str) -> None:
    with pytest.raises(StackError, match="invalid scrape target name"):
        target_file(settings, name)
