"""persona.paimon"""
