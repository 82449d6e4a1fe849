"""persona.logic: branch, replay, diff, merge and log of logic versions (``persona logic``, DESIGN §6).

A tool: it reads Kafka, Cassandra and the warehouse, and writes only a branch's tables and the logic
store; the pure parts are ``diff`` and ``persona.replay``'s core.
"""

from persona.logic.catalog import CatalogBranches, load_catalog_branches
from persona.logic.diff import ABSENT, SegmentDiff, diff_segments, format_diff
from persona.logic.work import (
    LogicError,
    LogicWorkspace,
    MergeReport,
    ReplayReport,
    RetainedInput,
    parse_retained,
    release_in_force,
    snapshot_at_or_before,
)

__all__ = [
    "ABSENT",
    "CatalogBranches",
    "LogicError",
    "LogicWorkspace",
    "MergeReport",
    "ReplayReport",
    "RetainedInput",
    "SegmentDiff",
    "diff_segments",
    "format_diff",
    "load_catalog_branches",
    "parse_retained",
    "release_in_force",
    "snapshot_at_or_before",
]
