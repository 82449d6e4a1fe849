"""persona.kafka"""
