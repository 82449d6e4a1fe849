"""Sampling a running bench every two seconds: CPU% and RSS of each flow, Kafka, Cassandra and the
producer; the machine's CPU%; each flow's lag; the records offered so far."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from persona.benchkit.processes import RunFlows
from persona.benchkit.procstat import MachineSampler, ProcessSampler
from persona.benchkit.producer import ProducerProcess
from persona.contracts import Topics
from persona.kafka import EndOffsets
from persona.localstack import SERVICES, StackSettings, running_pid


class Monitor:
    """A thread that appends a sample to ``samples`` every ``SAMPLE_S``; ``latest_lag`` is the
    newest sample's lag per flow (a new dict each sample, so a reader can tell a new one)."""

    SAMPLE_S = 2.0

    def __init__(
        self,
        flows: RunFlows,
        offsets: EndOffsets,
        topics: Topics,
        producer: ProducerProcess,
        stack: StackSettings,
    ) -> None:
        self.samples: list[dict[str, Any]] = []
        self.latest_lag: dict[str, int] = {}
        self._flows = flows
        self._offsets = offsets
        self._topics = topics
        self._producer = producer
        # Per name, the processes summed into its CPU and RSS (every process of an enrich cluster).
        self._samplers: dict[str, list[ProcessSampler]] = {}
        for spec in flows:
            if pids := flows.pids(spec):
                self._samplers[spec.name] = [ProcessSampler(pid) for pid in pids]
        for service in SERVICES:
            pid = running_pid(stack, service)
            if pid is not None:
                self._samplers[service] = [ProcessSampler(pid)]
        if producer.process.pid is not None:
            # The load generator shares the machine's cores with what it measures.
            self._samplers["producer"] = [ProcessSampler(producer.process.pid)]
        self._machine = MachineSampler()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            sample: dict[str, Any] = {"t": now, "offered_total": self._producer.total}
            for name, samplers in self._samplers.items():
                got = [g for sampler in samplers if (g := sampler.sample(now)) is not None]
                if got:
                    sample[f"{name}_cpu"] = sum(g[0] for g in got)
                    sample[f"{name}_rss_mib"] = sum(g[1] for g in got) / 2**20
            busy = self._machine.sample()
            if busy is not None:
                sample["machine_cpu"] = busy
            lags: dict[str, int] = {}
            for spec in self._flows:
                with contextlib.suppress(Exception):  # a flow between epochs or stopping
                    lags[spec.name] = self._flows.lag(spec, self._offsets, self._topics)
                    sample[f"{spec.name}_lag"] = lags[spec.name]
            self.latest_lag = lags
            self.samples.append(sample)
            self._stop.wait(Monitor.SAMPLE_S)
