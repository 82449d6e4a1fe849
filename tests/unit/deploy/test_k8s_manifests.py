"""k8s/: every overlay (and the Argo CD Applications) renders with `kubectl kustomize`, and every object
validates offline against the Kubernetes OpenAPI schemas that kubernetes-validate bundles. Custom
resources have no schema there: each such kind is named below with the reason it is not schema-checked,
printed when skipped, and the parts of them persona relies on are checked here by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploy_support import K8S, RENDERED, ROOT, objects

# The Kubernetes version the manifests are written for (CronJob timeZone, policy/v1, ...).
KUBERNETES_VERSION = "1.32"

# Custom resources: kubernetes-validate bundles only the built-in API's schemas, and the operators'
# CRDs are not vendored here (they are not in any registry this project's machines reach).
CUSTOM_KINDS = {
    ("monitoring.coreos.com/v1", "PodMonitor"): "Prometheus Operator CRD; checked by hand below",
    (
        "monitoring.coreos.com/v1",
        "PrometheusRule",
    ): "Prometheus Operator CRD; equal to the repo's rule file below",
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): "Strimzi CRD; generated from persona.contracts.Topics below",
    ("argoproj.io/v1alpha1", "Application"): "Argo CD CRD; source paths checked below",
}

FLOWS = ("cdc", "enrich", "sink")


def validate(document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_renders_and_validates_against_the_kubernetes_schemas(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rendered = objects(RENDERED[name])
    assert rendered, f"{name} rendered nothing"
    errors, skipped = [], set()
    for document in rendered:
        key = (document["apiVersion"], document["kind"])
        label = f"{document['kind']}/{document['metadata']['name']}"
        if key in CUSTOM_KINDS:
            skipped.add(key)
            continue
        try:
            validate(document)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{label}: {'.'.join(map(str, error.path))}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{label}: no schema for {key}: add it to CUSTOM_KINDS with a reason, or fix it")
    with capsys.disabled():
        for api_version, kind in sorted(skipped):
            sys.stdout.write(
                f"\n  {name}: {kind} ({api_version}) not schema-checked: {CUSTOM_KINDS[(api_version, kind)]}"
            )
    assert not errors, "\n".join(errors)


def test_the_validator_rejects_an_unknown_field() -> None:
    """The check above can fail: a misspelt field of a rendered StatefulSet is an error."""
    statefulset = next(d for d in objects(RENDERED["overlays/prod"]) if d["kind"] == "StatefulSet")
    statefulset["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(statefulset)


def by_kind(rendered: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in rendered if d["kind"] == kind}


@pytest.mark.parametrize("overlay", ["overlays/local", "overlays/prod"])
def test_each_flow_is_a_probed_statefulset_with_its_recovery_volume(overlay: str) -> None:
    rendered = objects(RENDERED[overlay])
    statefulsets = by_kind(rendered, "StatefulSet")
    assert set(statefulsets) == {f"persona-{flow}" for flow in FLOWS}
    settings = by_kind(rendered, "ConfigMap")
    (config,) = settings.values()
    home = config["data"]["PERSONA_HOME"]
    for flow in FLOWS:
        pod = statefulsets[f"persona-{flow}"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["args"] == ["run", flow]
        assert {"name": "metrics", "containerPort": 9464, "protocol": "TCP"} in container["ports"]
        assert config["data"]["PERSONA_METRICS_PORT"] == "9464"
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        # persona run keeps the recovery store under $PERSONA_HOME/flows (tools/cli run_cmd.py).
        assert mounts["state"] == f"{home}/flows"
        claims = [
            t["metadata"]["name"] for t in statefulsets[f"persona-{flow}"]["spec"]["volumeClaimTemplates"]
        ]
        assert claims == ["state"]
        assert container["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
    enrich = statefulsets["persona-enrich"]["spec"]["template"]["spec"]["containers"][0]
    state_dir = {e["name"]: e.get("value") for e in enrich.get("env", [])}["PERSONA_ENRICH_STATE_DIR"]
    assert state_dir.startswith(f"{home}/flows/"), "the customer log stays on the recovery volume"


def test_enrich_gets_a_whole_cpu_in_guaranteed_qos() -> None:
    for overlay in ("overlays/local", "overlays/prod"):
        enrich = by_kind(objects(RENDERED[overlay]), "StatefulSet")["persona-enrich"]["spec"]["template"][
            "spec"
        ]
        for container in enrich["containers"]:
            resources = container["resources"]
            assert resources["requests"]["cpu"] == resources["limits"]["cpu"] == "1"
            assert resources["requests"]["memory"] == resources["limits"]["memory"]


def test_secrets_are_referenced_never_rendered() -> None:
    for name in RENDERED:
        assert not [d for d in objects(RENDERED[name]) if d["kind"] == "Secret"], f"{name} renders a Secret"
    prod = by_kind(objects(RENDERED["overlays/prod"]), "ConfigMap")
    (config,) = prod.values()
    data = config["data"]
    assert data["PERSONA_KAFKA_SASL_PASSWORD_FILE"].startswith("/etc/persona/kafka/")
    assert data["PERSONA_CASSANDRA_PASSWORD_FILE"].startswith("/etc/persona/cassandra/")
    assert not any("PASSWORD" in key and not key.endswith("_FILE") for key in data)


def test_every_setting_in_the_configmaps_is_a_registered_setting() -> None:
    from persona.settings import registry

    known = {value.name for value in vars(registry).values() if isinstance(value, registry.Setting)}
    # Declared by the flows' health/metrics endpoint work (issue 21), merged separately.
    known.add("PERSONA_METRICS_PORT")
    for overlay in ("overlays/local", "overlays/prod"):
        (config,) = by_kind(objects(RENDERED[overlay]), "ConfigMap").values()
        assert set(config["data"]) <= known, set(config["data"]) - known


def test_every_stateful_workload_has_a_disruption_budget() -> None:
    rendered = objects(RENDERED["overlays/prod"])
    budgets = by_kind(rendered, "PodDisruptionBudget")
    for kind in ("StatefulSet", "Deployment"):
        for name, workload in by_kind(rendered, kind).items():
            selector = workload["spec"]["selector"]
            assert any(b["spec"]["selector"] == selector for b in budgets.values()), f"{kind}/{name}"


def test_the_prometheus_rule_carries_the_repos_alert_rules_unchanged() -> None:
    rule_file = yaml.safe_load((ROOT / "infra" / "prometheus" / "rules" / "persona-alerts.yml").read_text())
    for overlay in ("overlays/local", "overlays/prod"):
        (rule,) = by_kind(objects(RENDERED[overlay]), "PrometheusRule").values()
        assert rule["spec"]["groups"] == rule_file["groups"]


def test_generated_manifests_are_fresh() -> None:
    done = subprocess.run(
        [sys.executable, str(K8S / "generate.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_the_pod_monitor_scrapes_the_flows_as_job_persona() -> None:
    rendered = objects(RENDERED["overlays/prod"])
    (monitor,) = by_kind(rendered, "PodMonitor").values()
    # The alert rules read up{job="persona"}: the job name comes from the pods' part-of label.
    job_label = monitor["spec"]["jobLabel"]
    for statefulset in by_kind(rendered, "StatefulSet").values():
        labels = statefulset["spec"]["template"]["metadata"]["labels"]
        assert labels[job_label] == "persona"
        assert all(labels.get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    assert [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]] == ["metrics"]


def test_kafka_topics_are_every_topic_of_the_contract() -> None:
    from persona.contracts.topics import Topics

    topics = by_kind(objects(RENDERED["overlays/prod"]), "KafkaTopic").values()
    assert sorted(t["spec"]["topicName"] for t in topics) == sorted(Topics().all_topics())
    compacted = {
        t["spec"]["topicName"] for t in topics if t["spec"]["config"].get("cleanup.policy") == "compact"
    }
    assert compacted == Topics().compacted()


def test_each_argo_application_deploys_an_overlay_that_exists() -> None:
    applications = by_kind(objects(RENDERED["gitops"]), "Application")
    paths = sorted(a["spec"]["source"]["path"] for a in applications.values())
    assert paths == ["k8s/overlays/local", "k8s/overlays/prod"]
    for path in paths:
        assert (ROOT / path / "kustomization.yaml").is_file()
        assert Path(ROOT / path).is_relative_to(K8S)
