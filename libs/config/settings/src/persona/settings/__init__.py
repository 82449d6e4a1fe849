"""persona.settings: every ``PERSONA_*`` setting, parsed once per process at its entry point.

Imported by flows and tools; it reads the environment only when an entry point asks it to.
"""

from persona.settings.logs import configure_logging, kv
from persona.settings.pipeline import PipelineSettings, SettingsError

__all__ = ["PipelineSettings", "SettingsError", "configure_logging", "kv"]
