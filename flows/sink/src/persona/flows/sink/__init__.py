"""The sink flow: decisions (``segment_decisions``) -> Paimon, one commit per commit interval.

    python -m bytewax.run "persona.flows.sink:build_flow()" -s 10

Paimon ``marketing_segments`` (upsert by customer_id, the newest version of each customer) and
``segment_decisions`` (the audit, keyed by event_id) are written in one commit per commit interval
— on the Bytewax epoch, so what recovery counts as done is always committed. The enrich flow has
already put each decision on ``marketing_segments_rt`` when it made it.
"""

from persona.flows.sink.flow import PaimonSink, build_flow, latest_segments

__all__ = ["PaimonSink", "build_flow", "latest_segments"]
