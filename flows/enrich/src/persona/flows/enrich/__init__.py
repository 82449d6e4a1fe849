"""The enrich flow: behavior events + order facts -> segment decisions (DESIGN §4).

    python -m bytewax.run "persona.flows.enrich:build_flow()"

Per customer (keyed state): order facts update the customer's orders; each new event updates the
recent SKUs and gets the next per-customer version. Then, per batch: one batched inventory read
through the TTL cache for every candidate SKU of the batch, the profile from memory (reloaded when
``customer_profile`` gets a new snapshot), and the pure ``decide``. Decisions with their audit go to
``segment_decisions`` for the sink flow; bad events to ``behavior_events.dlq``.

Inventory changes (``inventory_changes``) drop the SKU from the cache; when one makes a SKU
unsellable, every customer whose current recommendation holds it is re-decided (DESIGN §5) through
the ``redecide`` topic, read back by this flow.
"""

from persona.flows.enrich.flow import EnrichState, Pending, Redecide, build_flow

__all__ = ["EnrichState", "Pending", "Redecide", "build_flow"]
