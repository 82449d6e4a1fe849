"""persona.flows.enrich"""
