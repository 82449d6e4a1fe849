"""persona.inventory"""
