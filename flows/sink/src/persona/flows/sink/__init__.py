"""The sink flow: decisions -> Kafka ``marketing_segments_rt`` (now) and Paimon (at each commit).

    python -m bytewax.run "persona.flows.sink:build_flow()" -s 10

Every decision is produced to ``marketing_segments_rt`` as soon as it arrives (JSON keyed by
customer_id, with the per-customer ``version``). Paimon ``marketing_segments`` (upsert by
customer_id) and ``segment_decisions`` (the audit, keyed by event_id) are written in one commit per
commit interval — on the Bytewax epoch, so what recovery counts as done is always committed.
"""

from persona.flows.sink.flow import PaimonSink, audit_row, build_flow, segment_row

__all__ = ["PaimonSink", "audit_row", "build_flow", "segment_row"]
