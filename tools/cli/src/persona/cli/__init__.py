"""persona.cli"""
