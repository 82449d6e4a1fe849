"""persona.localstack"""
