"""persona.contracts"""
