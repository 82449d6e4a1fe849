"""persona.console: the web console, an app run by ``persona console`` (and beside ``persona demo``).

Pure view models and SVG charts (``views``, ``charts``), one reader per system (``prometheus`` behind
a Protocol, ``warehouse`` through persona.paimon), the Starlette app (``app``), and running it
(``server``). Nothing imports it but the CLI.
"""

from persona.console.server import ConsoleConfig, ConsoleServer, serve

__all__ = ["ConsoleConfig", "ConsoleServer", "serve"]
