"""persona.flows.cdc"""
