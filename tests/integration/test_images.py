"""The persona-flows image, built and run for real: `docker/images.sh build flows` (the README's
command; a warm build is all cached layers), then the cdc flow's container on the host network against
the local stack turns an order change on its private `orders_cdc` into an order fact on `order_facts`,
runs as its non-root user without compilers, and stops cleanly on `docker stop`."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from persona.contracts import Ok, Topics, parse_order_change
from persona.datagen import DataGenerator, GeneratorConfig
from persona.kafka import make_producer, produce_all, read_topic, topic_configs
from persona.localstack import StackSettings, create_topic, kafka_admin

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "docker" / "images.sh"
IMAGE = "persona-flows:local"


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The docker client against the engine docker/images.sh set up (never a guessed socket)."""
    return subprocess.run(
        [str(IMAGES), "docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def poll(what: str, check: Callable[[], bool], timeout: float, logs: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; container log:\n{logs()[-4000:]}")
        time.sleep(0.5)  # poll interval, not a wait for a result


@pytest.fixture(scope="session")
def flows_image() -> str:
    """persona-flows:local, built by the README's command (the engine and base image set up first)."""
    # A cold build (base image, PyPI downloads, vfs layer copies) takes ~12 min on 2 cores.
    build = subprocess.run(
        [str(IMAGES), "build", "flows"], capture_output=True, text=True, timeout=1500, check=False
    )
    if build.returncode != 0:
        pytest.fail(f"docker/images.sh build flows failed:\n{(build.stdout + build.stderr)[-6000:]}")
    return IMAGE


@pytest.fixture
def container_name() -> Iterator[str]:
    name = f"persona-it-cdc-{uuid.uuid4().hex[:10]}"
    yield name
    docker("rm", "--force", name)


@pytest.mark.timeout(1800)
def test_the_cdc_flow_image_turns_an_order_change_into_an_order_fact(
    stack: StackSettings, flows_image: str, container_name: str, unique_name: Callable[[str], str]
) -> None:
    prefix = unique_name("img") + "_"
    topics = Topics.with_prefix(prefix)
    configs = topic_configs(topics)
    for name, config in configs.items():
        create_topic(stack, name, 1, config)
    try:
        started = docker(
            "run",
            "--detach",
            "--name",
            container_name,
            "--network",
            "host",
            "--env",
            f"PERSONA_KAFKA_BOOTSTRAP={stack.kafka_bootstrap}",
            "--env",
            f"PERSONA_TOPIC_PREFIX={prefix}",
            "--env",
            f"PERSONA_GROUP_PREFIX={prefix}",
            "--env",
            "PERSONA_COMMIT_INTERVAL=1",
            flows_image,
            "cdc",
        )
        assert started.returncode == 0, started.stderr

        def logs() -> str:
            result = docker("logs", container_name)
            return result.stdout + result.stderr

        poll("the flow to start in its container", lambda: "flow cdc started: pid" in logs(), 180, logs)

        identity = docker("exec", container_name, "sh", "-c", "id -u; command -v gcc cc g++ make || true")
        assert identity.returncode == 0, identity.stderr
        assert identity.stdout.split() == ["10001"], "runs as uid 10001 and finds no compiler"

        gen = DataGenerator(
            GeneratorConfig(seed=21, customers=30, skus=20, order_fraction=1.0, run_id=uuid.uuid4().hex[:6])
        )
        now_ms = int(time.time() * 1000)
        order = next(r for r in gen.records(5, now_ms, 1) if r.kind == "order")
        customer = json.loads(order.value)["after"]["customer_id"]
        produce_all(make_producer(stack.kafka_bootstrap), topics.orders_cdc, [(order.key, order.value)])

        facts = read_topic(stack.kafka_bootstrap, topics.order_facts, min_count=1, timeout=120)
        assert [fact.key for fact in facts] == [str(customer).encode()], logs()[-4000:]
        fact = parse_order_change(facts[0].value or b"")
        assert isinstance(fact, Ok), fact
        assert (fact.value.order_id, fact.value.customer_id) == (
            json.loads(order.value)["after"]["order_id"],
            customer,
        )
        assert read_topic(stack.kafka_bootstrap, Topics.dlq(topics.orders_cdc), timeout=2) == []

        stopped = docker("stop", "--time", "60", container_name, timeout=90)
        assert stopped.returncode == 0, stopped.stderr
        state = docker("inspect", "--format", "{{.State.ExitCode}}", container_name)
        assert state.stdout.strip() == "0", logs()[-4000:]
        assert "flow cdc stopped" in logs()
    finally:
        kafka_admin(stack).delete_topics(configs)
