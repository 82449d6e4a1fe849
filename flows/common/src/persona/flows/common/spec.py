"""What a flow tells the programs that run and watch it: its name, factory, input topics and step ids.

Each flow exports one ``SPEC`` (``persona.flows.<name>.spec``); the runner, the demo and the bench
read it instead of re-spelling strings. A spec module imports no Bytewax and no flow code, so tools
may import it without importing the flow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from persona.contracts import Topics

FRESHNESS_SAMPLE_EVERY = 256
"""The flows' freshness histogram (``persona_segment_freshness_seconds``) records one decision in this
many (a uniform stride over the stream): what a reader of the histogram (the bench) must know of it."""


@dataclass(frozen=True)
class FlowSpec:
    name: str
    """The flow's short name (``cdc``): its process, log file and recovery directory."""
    dataflow_id: str
    """The Bytewax dataflow id; recovery stores key every step by ``<dataflow_id>.<step>``."""
    factory: str
    """What ``python -m bytewax.run`` is given."""
    inputs: Callable[[Topics], tuple[str, ...]]
    """The Kafka topics the flow reads, of a set of topics."""
    input_step: str = "in"
    """The step id of the Kafka input: part of the recovery contract."""

    @property
    def input_step_id(self) -> str:
        """The input step's id in the recovery store, where its partitions' offsets are kept."""
        return f"{self.dataflow_id}.{self.input_step}"
