"""k8s/: every overlay (and the Argo CD Applications) renders with `kubectl kustomize`, and every object
validates offline against the Kubernetes OpenAPI schemas that kubernetes-validate bundles. Custom
resources have no schema there: each such kind is named below with the reason it is not schema-checked,
printed when skipped, and the parts of them persona relies on are checked here by hand."""

from __future__ import annotations

import re
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


def generated(rendered: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one object a generator made as ``name`` (Kustomize appends a hash of its content)."""
    (found,) = [d for n, d in by_kind(rendered, kind).items() if n.rsplit("-", 1)[0] == name]
    return found


def flows(rendered: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The flows' StatefulSets (Nessie's is one too, with another component label)."""
    return {
        name: s
        for name, s in by_kind(rendered, "StatefulSet").items()
        if s["metadata"]["labels"].get("app.kubernetes.io/component") == "flow"
    }


def settings_map(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    """The ConfigMap of PERSONA_* settings every persona pod reads."""
    return generated(rendered, "ConfigMap", "persona-settings")


@pytest.mark.parametrize("overlay", ["overlays/local", "overlays/prod"])
def test_each_flow_is_a_probed_statefulset_with_its_recovery_volume(overlay: str) -> None:
    rendered = objects(RENDERED[overlay])
    statefulsets = flows(rendered)
    assert set(statefulsets) == {f"persona-{flow}" for flow in FLOWS}
    config = settings_map(rendered)
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
    config = settings_map(objects(RENDERED["overlays/prod"]))
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
        config = settings_map(objects(RENDERED[overlay]))
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
    selected = monitor["spec"]["selector"]["matchLabels"]
    for statefulset in flows(rendered).values():
        labels = statefulset["spec"]["template"]["metadata"]["labels"]
        assert labels[job_label] == "persona"
        assert all(labels.get(k) == v for k, v in selected.items())
    # Only the flows: Nessie, Trino and the console are not scraped as job "persona".
    for kind in ("StatefulSet", "Deployment"):
        for name, workload in by_kind(rendered, kind).items():
            labels = workload["spec"]["template"]["metadata"]["labels"]
            if name not in flows(rendered):
                assert not all(labels.get(k) == v for k, v in selected.items()), name
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


# --- the Iceberg publication (components/publication, components/publication-s3proxy) -----------------


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return container


def _env_names(container: dict[str, Any]) -> set[str]:
    return {e["name"] for e in container.get("env", [])}


def _service_port(rendered: list[dict[str, Any]], name: str, port_name: str) -> int:
    service = by_kind(rendered, "Service")[name]
    (port,) = [p["port"] for p in service["spec"]["ports"] if p["name"] == port_name]
    return int(port)


@pytest.mark.parametrize("overlay", ["overlays/local", "overlays/prod"])
def test_the_publication_runs_nessie_on_a_persistent_rocksdb_and_the_settings_point_at_it(
    overlay: str,
) -> None:
    rendered = objects(RENDERED[overlay])
    nessie = by_kind(rendered, "StatefulSet")["persona-nessie"]
    container = _container(nessie)
    assert container["image"] == "ghcr.io/projectnessie/nessie:0.99.0"
    assert nessie["spec"]["replicas"] == 1, "RocksDB has one writer"
    properties = _properties(
        generated(rendered, "ConfigMap", "persona-nessie")["data"]["application.properties"]
    )
    assert properties["nessie.version.store.type"] == "ROCKSDB"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    # The version store is on the volume claim, not in the container.
    assert [t["metadata"]["name"] for t in nessie["spec"]["volumeClaimTemplates"]] == ["rocksdb"]
    assert properties["nessie.version.store.persist.rocks.database-path"].startswith(mounts["rocksdb"] + "/")
    # Quarkus reads config/application.properties from the image's working directory, /deployments.
    assert mounts["config"] == "/deployments/config"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert str(ports["http"]) == properties["quarkus.http.port"]
    assert str(ports["management"]) == properties["quarkus.management.port"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == "management"
        assert container[probe]["httpGet"]["path"].startswith("/q/health/")
    # Every ${NAME} the properties expand is in the container's environment.
    wanted = set(re.findall(r"\$\{([A-Z0-9_]+)\}", "\n".join(properties.values())))
    assert wanted and wanted <= _env_names(container), wanted - _env_names(container)

    data = settings_map(rendered)["data"]
    assert data["PERSONA_PUBLICATION"] == "on"
    assert (
        data["PERSONA_NESSIE_URL"]
        == f"http://persona-nessie:{_service_port(rendered, 'persona-nessie', 'http')}"
    )
    assert data["PERSONA_S3_ENDPOINT"].startswith(("http://", "https://"))
    # The RFM job publishes its nightly tag: it gets the object store's key pair by reference.
    rfm = by_kind(rendered, "CronJob")["persona-rfm"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("valueFrom", {}) for e in rfm["containers"][0]["env"]}
    for name, key in (("PERSONA_S3_ACCESS_KEY", "access-key"), ("PERSONA_S3_SECRET_KEY", "secret-key")):
        assert env[name] == {"secretKeyRef": {"name": "persona-s3", "key": key}}


@pytest.mark.parametrize("overlay", ["overlays/local", "overlays/prod"])
def test_trinos_iceberg_catalog_is_nessies_rest_catalog(overlay: str) -> None:
    rendered = objects(RENDERED[overlay])
    trino = by_kind(rendered, "Deployment")["persona-trino"]
    container = _container(trino)
    assert container["image"] == "trinodb/trino:476"
    files = generated(rendered, "ConfigMap", "persona-trino")["data"]
    catalog = _properties(files["iceberg.properties"])
    port = _service_port(rendered, "persona-nessie", "http")
    assert catalog["connector.name"] == "iceberg"
    assert catalog["iceberg.catalog.type"] == "rest"
    assert catalog["iceberg.rest-catalog.uri"] == f"http://persona-nessie:{port}/iceberg/main"
    nessie = _properties(generated(rendered, "ConfigMap", "persona-nessie")["data"]["application.properties"])
    assert catalog["iceberg.rest-catalog.warehouse"] == nessie["nessie.catalog.default-warehouse"]
    config = _properties(files["config.properties"])
    assert config["catalog.management"] == "dynamic"
    assert config["http-server.http.port"] == str(
        {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
    )
    # Every ${ENV:NAME} of its files is in the container's environment; the S3 key pair is the AWS
    # SDK's, from the secret, and no file names it.
    wanted = set(re.findall(r"\$\{ENV:([A-Z0-9_]+)\}", "\n".join(files.values())))
    env = {e["name"]: e.get("valueFrom", {}) for e in container["env"]}
    assert wanted and wanted <= set(env), wanted - set(env)
    assert env["AWS_SECRET_ACCESS_KEY"] == {"secretKeyRef": {"name": "persona-s3", "key": "secret-key"}}
    assert not any("secret" in key or "aws-access-key" in key for key in catalog)
    # The etc volume the init container fills is where Trino reads etc/ and writes new catalogs.
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["etc"] == "/etc/trino"
    (init,) = trino["spec"]["template"]["spec"]["initContainers"]
    assert "/etc/trino/catalog/" in init["command"][-1]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions with In) selects a pod of ``labels``."""
    if not all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def _admits(policy: dict[str, Any], direction: str, peer: dict[str, str], port: int) -> bool:
    """Whether a policy's ``direction`` rules admit a pod of this namespace labelled ``peer`` on ``port``
    (a rule without peers admits any; a namespaceSelector peer is another namespace's)."""
    for rule in policy["spec"].get(direction, []):
        if not any(p["port"] == port for p in rule.get("ports", [])):
            continue
        peers = rule.get("from" if direction == "ingress" else "to")
        if peers is None or any(
            "podSelector" in p and "namespaceSelector" not in p and _selects(p["podSelector"], peer)
            for p in peers
        ):
            return True
    return False


def _pod_labels(rendered: list[dict[str, Any]], name: str) -> dict[str, str]:
    for kind in ("StatefulSet", "Deployment"):
        if name in by_kind(rendered, kind):
            labels: dict[str, str] = by_kind(rendered, kind)[name]["spec"]["template"]["metadata"]["labels"]
            return labels
    cron = by_kind(rendered, "CronJob")[name]
    labels = cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    return labels


def _allowed(rendered: list[dict[str, Any]], source: str, target: str, port: int) -> bool:
    """Whether the policies let pod ``source`` connect to pod ``target`` on ``port``: some policy
    selecting the source admits it as egress, and some policy selecting the target as ingress."""
    src, dst = _pod_labels(rendered, source), _pod_labels(rendered, target)
    policies = list(by_kind(rendered, "NetworkPolicy").values())
    egress = any(
        "Egress" in p["spec"]["policyTypes"]
        and _selects(p["spec"]["podSelector"], src)
        and _admits(p, "egress", dst, port)
        for p in policies
    )
    ingress = any(
        "Ingress" in p["spec"]["policyTypes"]
        and _selects(p["spec"]["podSelector"], dst)
        and _admits(p, "ingress", src, port)
        for p in policies
    )
    return egress and ingress


def test_the_network_policies_admit_the_publications_connections_and_no_others() -> None:
    local = objects(RENDERED["overlays/local"])
    for source, target, port in (
        ("persona-rfm", "persona-nessie", 19120),
        ("persona-trino", "persona-nessie", 19120),
        ("persona-nessie", "persona-s3proxy", 9000),
        ("persona-trino", "persona-s3proxy", 9000),
        ("persona-rfm", "persona-s3proxy", 9000),
    ):
        assert _allowed(local, source, target, port), f"{source} -> {target}:{port}"
    for source, target, port in (
        ("persona-sink", "persona-nessie", 19120),
        ("persona-console", "persona-s3proxy", 9000),
        ("persona-enrich", "persona-trino", 8080),
    ):
        assert not _allowed(local, source, target, port), f"{source} -> {target}:{port}"
    # The check can fail: without the egress rule to Nessie the RFM job cannot publish.
    without = [d for d in local if d["metadata"]["name"] != "persona-allow-to-nessie"]
    assert not _allowed(without, "persona-rfm", "persona-nessie", 19120)


def test_without_the_component_the_publication_stays_off() -> None:
    """base alone deploys no Nessie, so the RFM CronJob must not try to publish."""
    base = objects(K8S / "base")
    assert settings_map(base)["data"]["PERSONA_PUBLICATION"] == "off"
    assert "persona-nessie" not in by_kind(base, "StatefulSet")
    local = objects(RENDERED["overlays/local"])
    assert settings_map(local)["data"]["PERSONA_S3_ENDPOINT"] == (
        f"http://persona-s3proxy:{_service_port(local, 'persona-s3proxy', 's3')}"
    )
    assert "persona-s3proxy" not in by_kind(objects(RENDERED["overlays/prod"]), "Deployment")
