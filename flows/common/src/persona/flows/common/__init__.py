"""persona.flows.common: what the flow processes share (Kafka wiring from settings, process tuning).

Imported by the flows only; it runs nothing itself.
"""
