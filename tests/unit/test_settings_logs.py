"""The logging configuration every entry point shares."""

from __future__ import annotations

import io
import logging

from persona.settings import configure_logging, kv


def test_kv_quotes_values_with_spaces_and_formats_floats() -> None:
    assert kv(flow="enrich", seconds=1.23456, reason="bad json", n=3) == (
        'flow=enrich seconds=1.235 reason="bad json" n=3'
    )
    assert kv(empty="") == 'empty=""'


def test_configure_logging_once_per_call_and_level() -> None:
    first, second = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        configure_logging("INFO", first)
        configure_logging("WARNING", second)  # replaces the first handler, adds no second one
        log = logging.getLogger("persona.test")
        log.info("not shown")
        log.warning("shown %s", kv(n=1))
        assert first.getvalue() == ""
        line = second.getvalue().strip()
        assert line.endswith("WARNING persona.test shown n=1"), line
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
        root.setLevel(level)
