"""persona.settings: every ``PERSONA_*`` setting, declared once and parsed once per process.

Each variable is declared in :mod:`persona.settings.registry` (parser, default, one-line doc); the
README's configuration table is rendered from there (``python -m persona.settings.readme``).

Parsed once per process: an entry point (a ``persona`` command, a flow's ``build_flow()``, a bench
child) reads its settings from the environment once and hands the values down. A process that starts
another hands it environment variables, never parsed values, and derives what it needs itself (the
flow runner, the Bytewax epoch) from its own settings; the child parses its own once, at its entry
point. Importing this package reads nothing from the environment.
"""

from persona.settings.logs import configure_logging, kv
from persona.settings.pipeline import PipelineSettings
from persona.settings.registry import LOG_LEVEL, SETTINGS
from persona.settings.setting import Setting, SettingsError

__all__ = ["LOG_LEVEL", "SETTINGS", "PipelineSettings", "Setting", "SettingsError", "configure_logging", "kv"]
