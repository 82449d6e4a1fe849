"""The cdc flow: Debezium ``orders_cdc`` envelopes -> normalized order facts keyed by customer_id.

    python -m bytewax.run "persona.flows.cdc:build_flow()"

Order facts go to ``order_facts`` (keyed by customer_id); each is the same Debezium shape,
normalized (one row, ``before`` for deletes). Duplicates are harmless: the enrich flow keeps the
latest change per order id. Bad envelopes go to the dead-letter topic of ``orders_cdc`` with the
reason and the original bytes. Like the other flows it moves one item per polled batch.

``spec`` says what the flow reads and how it runs; ``flow`` is the flow itself. The flow's names
load on first use, so importing the spec never imports Bytewax.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from persona.flows.cdc.flow import build_flow, normalize

__all__ = ["build_flow", "normalize"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("persona.flows.cdc.flow"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
