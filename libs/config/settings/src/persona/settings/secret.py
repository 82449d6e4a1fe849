"""A secret setting's value: redacted wherever it could be printed, revealed only to a client."""

from __future__ import annotations

import hmac
from typing import NoReturn

REDACTED = "**********"


class Secret:
    """A password or other secret read from a setting or a file.

    ``repr``, ``str`` and ``format`` show ``REDACTED``, so a settings object holding one can be logged,
    shown in a dataclass repr or end up in a traceback without leaking it; only :meth:`reveal` gives the
    value, to the client that needs it. It refuses to be pickled: a secret travels to another process
    as the environment variable or file it came from.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret is not pickled: pass the setting (environment variable or file) instead")


def secret(raw: str) -> Secret:
    """The parser of a secret setting: any text, kept redacted."""
    return Secret(raw)
