"""One logging configuration per entry point (the CLI, each flow process, a bench child).

Lines are ``<time> <level> <logger> <message>``; flows log ``key=value`` pairs in the message so a
line can be grepped and parsed. Libraries only create loggers (``logging.getLogger(__name__)``);
they never configure logging themselves.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from persona.settings.registry import LOG_LEVEL

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(level: str | int = LOG_LEVEL.default, stream: TextIO | None = None) -> None:
    """Send every persona logger's records at ``level`` or above to ``stream`` (stderr by default).

    Called once, at an entry point, normally with ``LOG_LEVEL.get(os.environ)`` (``PERSONA_LOG_LEVEL``);
    calling it again replaces the handler instead of adding one.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_persona", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT, datefmt="%Y-%m-%dT%H:%M:%S"))
    handler._persona = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    # Other libraries (pypaimon logs every commit at INFO) speak at WARNING and above; persona's own
    # loggers at ``level``.
    root.setLevel(logging.WARNING)
    logging.getLogger("persona").setLevel(level if isinstance(level, int) else level.upper())


def kv(**fields: object) -> str:
    """``key=value`` pairs for a structured log line; values with spaces are quoted."""
    parts = []
    for key, value in fields.items():
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        if not text or any(c.isspace() for c in text) or '"' in text:
            text = '"' + text.replace('"', '\\"') + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)
