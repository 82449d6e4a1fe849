"""The load: a thread producing the row's input to Kafka at a steady rate, in input (time) order,
so the flows run under load while the fault is injected from the harness's own thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence

from persona.chaos.inputs import MAX_INPUT_RECORD_BYTES
from persona.contracts import Topics
from persona.datagen import WireRecord
from persona.kafka import make_producer, produce

log = logging.getLogger(__name__)


class Load:
    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        records: Sequence[WireRecord],
        rate: float,
        kafka_config: Mapping[str, str] | None = None,
    ) -> None:
        self._bootstrap = bootstrap
        self._kafka_config = kafka_config  # the security settings
        self._topics = topics
        self._records = records
        self._rate = rate
        self.produced = 0  # handed to the producer (read by the harness: where the run is)
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._run, name="chaos-load", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def done(self) -> bool:
        return not self._thread.is_alive()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        # Deliveries are retried for as long as a row keeps Kafka down (the 90 s row), and more.
        # Its records may be as large as the input topics allow (the poison row's 2 MB one).
        producer = make_producer(
            self._bootstrap,
            self._kafka_config,
            **{"message.timeout.ms": 600_000, "message.max.bytes": MAX_INPUT_RECORD_BYTES + 4096},
        )

        def on_delivery(err: object, _msg: object) -> None:
            if err is not None:
                self.errors.append(str(err))

        started = time.monotonic()
        for i, r in enumerate(self._records):
            due = started + i / self._rate
            while (now := time.monotonic()) < due:
                producer.poll(min(0.05, due - now))  # pacing to the rate, serving delivery reports
            topic = self._topics.behavior_events if r.kind == "event" else self._topics.orders_cdc
            produce(producer, topic, r.value, r.key, on_delivery=on_delivery)
            self.produced = i + 1
        remaining = producer.flush(600)
        if remaining:
            self.errors.append(f"{remaining} records not acknowledged")
        if self.errors:
            log.warning("load: %d delivery errors, e.g. %s", len(self.errors), self.errors[0])
