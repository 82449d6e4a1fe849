"""Where the console listens and which Prometheus it reads: the local stack's by default, the
cluster's when the Deployment says so."""

from __future__ import annotations

from persona.console.server import ConsoleConfig


def test_the_console_listens_on_loopback_and_reads_the_local_prometheus_by_default() -> None:
    config = ConsoleConfig.from_env({"PERSONA_PROMETHEUS_PORT": "19090"})
    assert config.host == "127.0.0.1"
    assert config.port == 8050
    assert config.prometheus_url == "http://127.0.0.1:19090"
    assert config.url == "http://127.0.0.1:8050/"


def test_a_pod_listens_on_every_interface_and_reads_the_clusters_prometheus() -> None:
    config = ConsoleConfig.from_env(
        {
            "PERSONA_CONSOLE_HOST": "0.0.0.0",
            "PERSONA_PROMETHEUS_URL": "http://prometheus-operated.monitoring.svc:9090",
        },
        port=18050,
    )
    assert config.host == "0.0.0.0"
    assert config.prometheus_url == "http://prometheus-operated.monitoring.svc:9090"
    # The URL printed for people names a reachable address, not the wildcard.
    assert config.url == "http://127.0.0.1:18050/"
