"""Writes the Kubernetes objects that are copies of something the repo already states once:

- ``base/monitoring/prometheusrule.yaml``: the PrometheusRule carrying
  ``infra/prometheus/rules/persona-alerts.yml`` (the local Prometheus's rule file) unchanged;
- ``components/strimzi-topics/kafka-topics.yaml``: a Strimzi KafkaTopic for every topic of
  ``persona.contracts.Topics`` and its dead-letter topic (the compacted ones compacted).

    uv run python k8s/generate.py --write   # regenerate after changing a source
    uv run python k8s/generate.py --check   # exit 1 when a generated file is stale (a unit test runs it)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from persona.contracts.topics import Topics

K8S = Path(__file__).resolve().parent
ROOT = K8S.parent
ALERT_RULES = ROOT / "infra" / "prometheus" / "rules" / "persona-alerts.yml"
PROMETHEUS_RULE = K8S / "base" / "monitoring" / "prometheusrule.yaml"
KAFKA_TOPICS = K8S / "components" / "strimzi-topics" / "kafka-topics.yaml"

# Production sizing of the topics (docs/scaling.md): partitions bound the flows' parallelism, and
# three replicas with min.insync.replicas 2 survive one broker.
PARTITIONS = 12
DLQ_PARTITIONS = 3
REPLICAS = 3
STRIMZI_CLUSTER = "persona-kafka"


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings (the rules' PromQL stays readable)."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def _dump(documents: list[dict[str, Any]], source: str) -> str:
    header = (
        f"# Generated from {source} by `uv run python k8s/generate.py --write`: edit the source, not this\n"
        "# file (a unit test fails when it is stale).\n"
    )
    body = "---\n".join(
        yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=1000) for document in documents
    )
    return header + body


def prometheus_rule() -> str:
    rules = yaml.safe_load(ALERT_RULES.read_text())
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "persona-alerts", "labels": {"app.kubernetes.io/name": "persona-alerts"}},
        "spec": {"groups": rules["groups"]},
    }
    return _dump([rule], str(ALERT_RULES.relative_to(ROOT)))


def kafka_topics() -> str:
    topics = Topics()
    compacted = topics.compacted()
    documents = []
    for name in topics.all_topics():
        is_dlq = name.endswith(".dlq")
        config: dict[str, Any] = {"min.insync.replicas": 2}
        if name in compacted:
            config["cleanup.policy"] = "compact"
        documents.append(
            {
                "apiVersion": "kafka.strimzi.io/v1beta2",
                "kind": "KafkaTopic",
                "metadata": {
                    # Object names are DNS labels; the topic's own name is spec.topicName.
                    "name": name.replace("_", "-").replace(".", "-"),
                    "labels": {"strimzi.io/cluster": STRIMZI_CLUSTER},
                },
                "spec": {
                    "topicName": name,
                    "partitions": DLQ_PARTITIONS if is_dlq else PARTITIONS,
                    "replicas": REPLICAS,
                    "config": config,
                },
            }
        )
    return _dump(documents, "libs/domain/contracts/src/persona/contracts/topics.py (Topics)")


GENERATED = {PROMETHEUS_RULE: prometheus_rule, KAFKA_TOPICS: kafka_topics}


def stale() -> list[Path]:
    return [path for path, make in GENERATED.items() if not path.is_file() or path.read_text() != make()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="(re)write the generated files")
    mode.add_argument("--check", action="store_true", help="exit 1 if a generated file is stale")
    args = parser.parse_args(argv)
    if args.write:
        for path, make in GENERATED.items():
            path.write_text(make())
        return 0
    old = stale()
    for path in old:
        sys.stderr.write(f"stale: {path.relative_to(ROOT)} (run `uv run python k8s/generate.py --write`)\n")
    return 1 if old else 0


if __name__ == "__main__":
    sys.exit(main())
