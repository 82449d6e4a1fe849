"""persona.paimon: the one adapter to the Paimon warehouse (pypaimon + pypaimon-rust).

Tables are created with the native (Rust) write, read, plan and commit options switched on;
see ``schema.NATIVE_OPTIONS``.
"""

from persona.paimon.catalog import PaimonError, PaimonWarehouse
from persona.paimon.erasures import latest_erasures
from persona.paimon.evolution import add_column, erase_customer, schema_id
from persona.paimon.explain import decision_in_force, explanation_lines
from persona.paimon.schema import (
    DATABASE,
    ERASURES,
    SEGMENT_DECISIONS,
    TABLES,
    TableSpec,
    check_primary_key,
    ensure_tables,
)
from persona.paimon.writer import CommitResult, TableWriter

__all__ = [
    "DATABASE",
    "ERASURES",
    "SEGMENT_DECISIONS",
    "TABLES",
    "CommitResult",
    "PaimonError",
    "PaimonWarehouse",
    "TableSpec",
    "TableWriter",
    "add_column",
    "check_primary_key",
    "decision_in_force",
    "ensure_tables",
    "erase_customer",
    "explanation_lines",
    "latest_erasures",
    "schema_id",
]
