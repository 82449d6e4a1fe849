"""What one ``PERSONA_*`` variable is: its name, parser (which validates), default and one-line doc.

The declarations themselves are in :mod:`persona.settings.registry`; this module only knows how to read
one from an environment mapping and how to say what is wrong with a value.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")
N = TypeVar("N", int, float)

_HEAP_PATTERN = re.compile(r"^(\d+)([mMgG])$")


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable.

    ``parse`` turns the variable's text into its value and validates it, raising ``ValueError`` with a
    phrase that follows the variable's name ("is not an integer: 'x'"). A variable that is unset or
    blank takes ``default``; ``None`` there means the default is derived from other values at the
    entry point, and ``shown_default`` says how, in words, for the README.
    """

    name: str
    parse: Callable[[str], T]
    default: T
    doc: str
    shown_default: str | None = None
    # docs/configuration.md has a section on it, which the README's row links to.
    details: bool = False

    def given(self, env: Mapping[str, str]) -> T | None:
        """The variable's parsed value, or None when it is unset or blank."""
        raw = env.get(self.name, "").strip()
        if not raw:
            return None
        try:
            return self.parse(raw)
        except ValueError as error:
            raise SettingsError(f"{self.name} {error}") from None

    def get(self, env: Mapping[str, str]) -> T:
        """The variable's parsed value, or its default when it is unset or blank."""
        value = self.given(env)
        return self.default if value is None else value

    def check(self, value: T) -> None:
        """Validate a number or text a caller built itself as if the environment had held it."""
        self.given({self.name: str(value)})


def text(raw: str) -> str:
    return raw


def path(raw: str) -> Path:
    return Path(raw)


def integer(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"is not an integer: {raw!r}") from None


def number(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"is not a number: {raw!r}") from None


def positive(parse: Callable[[str], N]) -> Callable[[str], N]:
    def parse_positive(raw: str) -> N:
        value = parse(raw)
        if value <= 0:
            raise ValueError(f"must be > 0, got {raw}")
        return value

    return parse_positive


def at_least(minimum: int) -> Callable[[str], int]:
    def parse_at_least(raw: str) -> int:
        value = integer(raw)
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, got {value}")
        return value

    return parse_at_least


def port(raw: str) -> int:
    value = integer(raw)
    if not 0 < value < 65536:
        raise ValueError(f"is out of range: {value} (a TCP port is 1 to 65535)")
    return value


def hosts(raw: str) -> tuple[str, ...]:
    names = tuple(h.strip() for h in raw.split(",") if h.strip())
    if not names:
        raise ValueError(f"names no host: {raw!r} (comma-separated host names)")
    return names


def cluster_addresses(raw: str) -> tuple[str, ...]:
    """Bytewax cluster addresses: ``host:port`` per process, ``;``-separated (as ``bytewax.run -a``)."""
    addresses = tuple(a.strip() for a in raw.split(";") if a.strip())
    if not addresses:
        raise ValueError(f"names no address: {raw!r} (host:port;host:port, one per process)")
    for address in addresses:
        host, sep, number = address.rpartition(":")
        if not sep or not host:
            raise ValueError(f"{address!r} is not host:port")
        port(number)
    if len(set(addresses)) != len(addresses):
        raise ValueError(f"names an address twice: {raw!r}")
    return addresses


def heap_megabytes(value: str) -> int:
    """A JVM heap size such as ``768M`` or ``1G`` in megabytes."""
    match = _HEAP_PATTERN.match(value.strip())
    if match is None:
        raise ValueError(f"is an invalid heap size: {value!r} (a number followed by M or G, e.g. 768M)")
    amount, unit = int(match.group(1)), match.group(2).upper()
    return amount * 1024 if unit == "G" else amount


def heap_size(at_most_mb: int | None = None) -> Callable[[str], str]:
    """A JVM heap size (``-Xmx`` text), optionally no larger than ``at_most_mb``."""

    def parse_heap(raw: str) -> str:
        megabytes = heap_megabytes(raw)
        if at_most_mb is not None and megabytes > at_most_mb:
            limit = f"{at_most_mb // 1024}G" if at_most_mb % 1024 == 0 else f"{at_most_mb}M"
            raise ValueError(f"{raw} exceeds the local limit of {limit}")
        return raw

    return parse_heap


def log_level(raw: str) -> str:
    name = raw.upper()
    if name not in logging.getLevelNamesMapping():
        raise ValueError(f"is not a log level: {raw!r} (DEBUG, INFO, WARNING, ERROR or CRITICAL)")
    return name


def one_of(*choices: str) -> Callable[[str], str]:
    """One of ``choices``, case-insensitive, returned as the choice is spelled."""
    by_upper = {choice.upper(): choice for choice in choices}

    def parse_choice(raw: str) -> str:
        choice = by_upper.get(raw.upper())
        if choice is None:
            raise ValueError(f"is not one of {', '.join(choices)}: {raw!r}")
        return choice

    return parse_choice
