"""The directory a chaos flow's PYTHONPATH names so that its ``sitecustomize`` runs at start-up."""

from __future__ import annotations

from pathlib import Path

HOOK_DIR = Path(__file__).parent
VARIABLE = "CHAOS_COMPACT_MIN_BYTES"
"""The merge threshold ``sitecustomize`` sets (it runs alone, so it spells the name itself). Not a
persona setting: only the chaos harness sets it, for one flow process."""
