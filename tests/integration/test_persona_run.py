"""`persona run` on the real stack: a flow killed with SIGKILL is restarted and keeps producing; a flow
that cannot start is given up after the configured failures; a flow started while Kafka is down waits
for it; SIGTERM stops it with exit 0; what it creates is private."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from persona.contracts import Topics
from persona.datagen import DataGenerator, GeneratorConfig
from persona.kafka import make_producer, produce_all, read_topic, topic_configs
from persona.localstack import StackSettings, create_topic, down, kafka_admin, up
from persona.localstack.procs import process_alive, read_pid

pytestmark = pytest.mark.integration


def poll(what: str, check: Callable[[], bool], timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-4000:] if log is not None and log.exists() else ""
            pytest.fail(f"timed out waiting for {what}\n{tail}")
        time.sleep(0.2)  # poll interval, not a wait for a result


@dataclass
class Run:
    """A private set of topics and a private PERSONA_HOME for one `persona run cdc`."""

    stack: StackSettings
    topics: Topics
    home: Path
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid_file(self) -> Path:
        return self.home / "flows" / "run" / "flow-cdc.pid"

    def start(self, **extra: str) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "persona.cli.main", "run", "cdc"],
                env={**self.env, **extra},
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        return self.process

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def child_pid(self) -> int | None:
        return read_pid(self.pid_file)

    def outputs(self) -> int:
        """Records cdc wrote: order facts and dead letters."""
        bootstrap = self.stack.kafka_bootstrap
        return sum(
            len(read_topic(bootstrap, topic, timeout=3))
            for topic in (self.topics.order_facts, Topics.dlq(self.topics.orders_cdc))
        )

    def produce_orders(self, gen: DataGenerator, count: int) -> None:
        now_ms = int(time.time() * 1000)
        orders = [r for r in gen.records(count * 3, now_ms, 1) if r.kind == "order"][:count]
        assert len(orders) == count
        produce_all(
            make_producer(self.stack.kafka_bootstrap),
            self.topics.orders_cdc,
            ((r.key, r.value) for r in orders),
        )


@pytest.fixture
def run(stack: StackSettings, tmp_path: Path) -> Iterator[Run]:
    tag = uuid.uuid4().hex[:10]
    topics = Topics.with_prefix(f"run_{tag}_")
    configs = topic_configs(topics)
    for name, config in configs.items():
        create_topic(stack, name, 1, config)
    env = {
        **os.environ,
        "PERSONA_HOME": str(tmp_path / "home"),
        "PERSONA_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "PERSONA_TOPIC_PREFIX": f"run_{tag}_",
        "PERSONA_GROUP_PREFIX": f"run-{tag}",
        "PERSONA_COMMIT_INTERVAL": "1",
        "PERSONA_RESTART_DELAY": "0.2",
        "PERSONA_STOP_TIMEOUT": "30",
    }
    subject = Run(stack, topics, tmp_path / "home", env, tmp_path / "persona-run.log")
    yield subject
    if subject.process is not None and subject.process.poll() is None:
        subject.process.kill()
        subject.process.wait(60)
    kafka_admin(stack).delete_topics(configs)


def _stop(r: Run) -> int:
    assert r.process is not None
    r.process.send_signal(signal.SIGTERM)
    return r.process.wait(timeout=90)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_killed_flow_is_restarted_and_keeps_producing(run: Run) -> None:
    gen = DataGenerator(
        GeneratorConfig(seed=5, customers=30, skus=20, order_fraction=1.0, run_id=uuid.uuid4().hex[:6])
    )
    run.start()
    poll("the flow to start", lambda: run.child_pid() is not None, 120, run.log)
    first = run.child_pid()
    assert first is not None
    run.produce_orders(gen, 20)
    poll("the first orders to come out", lambda: run.outputs() >= 20, 120, run.log)
    before = run.outputs()

    os.kill(first, signal.SIGKILL)
    poll("the restart", lambda: run.child_pid() not in (None, first), 120, run.log)
    assert f"flow cdc (pid {first}) killed by SIGKILL" in run.text()
    assert not process_alive(first)

    run.produce_orders(gen, 20)
    poll("orders produced after the restart to come out", lambda: run.outputs() >= before + 20, 120, run.log)
    second = run.child_pid()
    assert second is not None

    assert _stop(run) == 0, run.text()[-4000:]
    assert "flow cdc stopped" in run.text()
    poll("the flow process to end", lambda: not process_alive(second), 30)
    assert not run.pid_file.exists()

    flows = run.home / "flows"
    for directory in (
        run.home,
        flows,
        flows / "recovery",
        flows / "recovery" / "cdc",
        flows / "logs",
        flows / "run",
    ):
        assert _mode(directory) == 0o700, directory
    for file in (flows / "logs" / "flow-cdc.log", flows / "recovery" / "cdc" / "part-0.sqlite3"):
        assert _mode(file) == 0o600, file


def test_a_flow_that_cannot_start_is_given_up_after_the_allowed_failures(run: Run) -> None:
    store = run.home / "flows" / "recovery" / "cdc"
    store.mkdir(parents=True)
    (store / "part-0.sqlite3").write_bytes(b"not a sqlite database " * 100)
    run.start(PERSONA_RESTART_MAX="3")
    assert run.process is not None
    code = run.process.wait(timeout=300)
    text = run.text()
    assert code == 1, text[-4000:]
    assert text.count("flow cdc started: pid") == 3
    assert text.count("exited with code 1; last lines") == 3
    giving_up = [line for line in text.splitlines() if "giving up" in line]
    assert len(giving_up) == 1
    assert "failed 3 times within 300 s; giving up (last: exited with code 1:" in giving_up[0]
    assert "file is not a database" in giving_up[0]


def test_a_flow_started_while_kafka_is_down_waits_for_it(run: Run) -> None:
    gen = DataGenerator(
        GeneratorConfig(seed=6, customers=30, skus=20, order_fraction=1.0, run_id=uuid.uuid4().hex[:6])
    )
    down(run.stack, only=["kafka"])
    try:
        run.start()
        waiting = f"waiting for Kafka at {run.stack.kafka_bootstrap}"
        poll("the waiting log line", lambda: waiting in run.text(), 60, run.log)
        assert run.child_pid() is None
        assert run.process is not None and run.process.poll() is None
    finally:
        up(run.stack)
    poll("the flow to start once Kafka answers", lambda: run.child_pid() is not None, 180, run.log)
    run.produce_orders(gen, 10)
    poll("the orders to come out", lambda: run.outputs() >= 10, 120, run.log)
    assert _stop(run) == 0, run.text()[-4000:]
