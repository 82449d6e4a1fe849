"""The enrich flow: behavior events + order facts -> segment decisions (DESIGN §4).

    python -m bytewax.run "persona.flows.enrich:build_flow()"

Customers are split into ``PERSONA_ENRICH_SHARDS`` shards (``customer_id % shards``); each shard is
one Bytewax state holding its customers. Per polled batch: order facts update a customer's orders;
each new event updates the recent SKUs and gets the next per-customer version; then one inventory
lookup through the TTL cache for every candidate SKU, the profile from memory (reloaded when
``customer_profile`` gets a new snapshot), and the pure ``decide``. Each decision goes at once to
``marketing_segments_rt`` (JSON) and, with its audit record, to ``segment_decisions`` for the sink
flow's Paimon commits; bad records go to ``<topic>.dlq``.

Inventory changes (``inventory_changes``) replace the SKU's cached stock; when one makes a SKU
unsellable, every customer whose current recommendation holds it is re-decided at once (DESIGN §5).

Modules: ``flow`` (wiring, the shards' shared context), ``routing`` (a poll to the shards),
``shard`` (``CustomerShard``), ``state`` (per-customer state, snapshots), ``customer_log`` (the
shards' files), ``reporting`` (statistics lines). The names below are imported on first use, so a
module of this package that needs no Bytewax (a spec, say) imports without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from persona.flows.enrich.flow import EnrichContext, build_flow
    from persona.flows.enrich.routing import route
    from persona.flows.enrich.shard import CustomerShard
    from persona.flows.enrich.state import EnrichState, ShardSnapshot

__all__ = ["CustomerShard", "EnrichContext", "EnrichState", "ShardSnapshot", "build_flow", "route"]

_MODULE_OF = {
    "CustomerShard": "shard",
    "EnrichContext": "flow",
    "EnrichState": "state",
    "ShardSnapshot": "state",
    "build_flow": "flow",
    "route": "routing",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
