"""The sink flow: decisions (``segment_decisions``) -> Paimon, one commit per Bytewax epoch.

    python -m bytewax.run "persona.flows.sink:build_flow()" -s 10

Paimon ``marketing_segments`` (upsert by customer_id, the newest version of each customer) and
``segment_decisions`` (the audit, keyed by event_id) are written in one commit per epoch (``-s``:
the runner gives the commit interval), so what recovery counts as done is always committed. The
enrich flow has already put each decision on ``marketing_segments_rt`` when it made it.

``spec`` says what the flow reads and how it runs; ``flow`` is the flow and its Paimon sink,
``rows`` its Paimon rows. The flow's names load on first use, so importing the spec never imports
Bytewax.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from persona.flows.sink.flow import PaimonSink, build_flow
    from persona.flows.sink.rows import latest_segments

__all__ = ["PaimonSink", "build_flow", "latest_segments"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("persona.flows.sink.flow"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
