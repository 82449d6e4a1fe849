"""persona.datagen: seeded, clock-driven test data in the wire formats of DESIGN §3.

The demo, the tests and the benchmarks share it: the same seed and clock give the same data.
"""

from persona.datagen.generator import (
    DataGenerator,
    GeneratorConfig,
    WireRecord,
)

__all__ = ["DataGenerator", "GeneratorConfig", "WireRecord"]
