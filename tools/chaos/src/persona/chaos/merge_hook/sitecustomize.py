"""Run by Python at start-up in the enrich flow of the mid-merge row (its PYTHONPATH names this
directory): sets the customer log's merge threshold to ``CHAOS_COMPACT_MIN_BYTES``.

A chaos row's shard holds kilobytes, and ``customer_log.COMPACT_MIN_BYTES`` (8 MiB) would never let it
merge, so there would be no merge to kill. Lowered, the flow's own code merges (in a child process,
as always) every few epochs; nothing else changes. The integration tests of the customer log lower
the same constant. The variable is removed once read, so the merge children this flow spawns (they
inherit its environment and this path) import nothing more than they would.

Not part of the package's API: only a flow process started by ``persona chaos`` imports it.
"""

from __future__ import annotations

import importlib
import os

VARIABLE = "CHAOS_COMPACT_MIN_BYTES"

_value = os.environ.pop(VARIABLE, None)
if _value is not None:
    # Imported by name: this runs inside the flow process, where the flow's modules are the flow's own.
    _log = importlib.import_module("persona.flows.enrich.customer_log")
    if not hasattr(_log, "COMPACT_MIN_BYTES"):
        raise RuntimeError(f"{VARIABLE}: persona.flows.enrich.customer_log has no COMPACT_MIN_BYTES to set")
    setattr(_log, "COMPACT_MIN_BYTES", int(_value))  # noqa: B010 (a module imported by name)
