"""persona.flows.sink"""
