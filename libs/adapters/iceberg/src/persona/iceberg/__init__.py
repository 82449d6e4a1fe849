"""persona.iceberg: Iceberg tables in an Iceberg REST catalog (Nessie's) through pyiceberg, data in S3.

An adapter: nothing runs and nothing reads the environment at import; callers pass the catalog URI and
S3 options from their settings.
"""

from __future__ import annotations

from persona.iceberg.publication import (
    IcebergError,
    PublishResult,
    S3Options,
    ensure_namespace,
    read_all,
    replace_contents,
    rest_catalog,
    row_count,
    snapshot_with,
    summary_values,
    table_properties,
    tag_snapshot,
)

__all__ = [
    "IcebergError",
    "PublishResult",
    "S3Options",
    "ensure_namespace",
    "read_all",
    "replace_contents",
    "rest_catalog",
    "row_count",
    "snapshot_with",
    "summary_values",
    "table_properties",
    "tag_snapshot",
]
