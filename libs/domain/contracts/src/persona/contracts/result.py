"""Parse results: parsers return a value or a reason, they never raise on bad input.

A streaming flow routes ``Err`` to the dead-letter topic with the original bytes and keeps going, so the
error carries both the human-readable reason and the raw record.
"""

from __future__ import annotations

from typing import Generic, TypeAlias, TypeVar

import msgspec

T = TypeVar("T")


class Ok(msgspec.Struct, Generic[T], frozen=True):
    """A successfully parsed record."""

    value: T


class Err(msgspec.Struct, frozen=True, gc=False):
    """A record that could not be parsed: why, and the bytes exactly as received."""

    reason: str
    raw: bytes


ParseResult: TypeAlias = Ok[T] | Err
