"""The README's configuration table, rendered from the registry between two marker comments.

``uv run python -m persona.settings.readme --write README.md`` rewrites the block;
``--check README.md`` exits 1 when it differs from the rendering (a unit test does the same).
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from persona.settings.logs import configure_logging
from persona.settings.registry import LOG_LEVEL, SETTINGS
from persona.settings.setting import Setting

BEGIN = "<!-- settings:begin -->"
END = "<!-- settings:end -->"
DETAILS = "docs/configuration.md"
GENERATED = (
    "<!-- generated from libs/config/settings/src/persona/settings/registry.py by "
    "`uv run python -m persona.settings.readme --write README.md`: edit the registry, not this table -->"
)

log = logging.getLogger(__name__)


class BlockMissing(ValueError):
    """The text has no settings block (or its markers are out of order)."""


def shown_default(setting: Setting[Any]) -> str:
    """The default as the table shows it: the words of a derived one, else the value."""
    if setting.shown_default is not None:
        return setting.shown_default
    value = setting.default
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{setting.name}: a default of {value!r} needs shown_default words")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        value = ",".join(value)
    text = str(value)
    return f"`{text}`" if text else "empty"


def anchor(setting: Setting[Any]) -> str:
    """The GitHub anchor of the docs section headed by the variable's name in backticks."""
    return setting.name.lower()


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_table(settings: Iterable[Setting[Any]] = SETTINGS) -> str:
    """The markdown table, one row per variable, in declaration order."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for setting in settings:
        meaning = setting.doc
        if setting.details:
            meaning += f" ([more]({DETAILS}#{anchor(setting)}))"
        rows.append(f"| `{setting.name}` | {_cell(shown_default(setting))} | {_cell(meaning)} |")
    return "\n".join(rows) + "\n"


def render_block(settings: Iterable[Setting[Any]] = SETTINGS) -> str:
    """The whole block, markers included."""
    return f"{BEGIN}\n{GENERATED}\n\n{render_table(settings)}{END}"


def current_block(text: str) -> str:
    """The settings block of a document, markers included."""
    start, end = _bounds(text)
    return text[start:end]


def replace_block(text: str, settings: Iterable[Setting[Any]] = SETTINGS) -> str:
    """``text`` with its settings block replaced by the rendering."""
    start, end = _bounds(text)
    return text[:start] + render_block(settings) + text[end:]


def _bounds(text: str) -> tuple[int, int]:
    start = text.find(BEGIN)
    end = text.find(END, start + 1) if start >= 0 else -1
    if start < 0 or end < 0:
        raise BlockMissing(f"no {BEGIN} … {END} block")
    return start, end + len(END)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m persona.settings.readme", description=__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", metavar="README", type=Path, help="rewrite the block of this file")
    action.add_argument("--check", metavar="README", type=Path, help="exit 1 if this file's block differs")
    args = parser.parse_args(argv)
    configure_logging(LOG_LEVEL.get(os.environ))
    path: Path = args.write or args.check
    text = path.read_text()
    try:
        rendered = replace_block(text)
    except BlockMissing as error:
        log.error("%s: %s", path, error)
        return 1
    if args.check:
        if rendered != text:
            log.error("%s: the settings table differs from the registry; run with --write %s", path, path)
            return 1
        return 0
    if rendered != text:
        path.write_text(rendered)
        log.info("%s: settings table rewritten", path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
