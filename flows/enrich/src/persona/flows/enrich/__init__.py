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
"""

from persona.flows.enrich.flow import CustomerShard, EnrichState, Pending, ShardSnapshot, build_flow, route

__all__ = ["CustomerShard", "EnrichState", "Pending", "ShardSnapshot", "build_flow", "route"]
