"""persona.decisions"""
