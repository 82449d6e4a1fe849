"""persona.paimon: the one adapter to the Paimon warehouse (pypaimon + pypaimon-rust).

Tables are created with the native (Rust) write, read, plan and commit options switched on;
see ``schema.NATIVE_OPTIONS``.
"""

from persona.paimon.catalog import PaimonWarehouse
from persona.paimon.schema import DATABASE, TABLES, TableSpec, ensure_tables
from persona.paimon.writer import CommitResult, TableWriter

__all__ = [
    "DATABASE",
    "TABLES",
    "CommitResult",
    "PaimonWarehouse",
    "TableSpec",
    "TableWriter",
    "ensure_tables",
]
