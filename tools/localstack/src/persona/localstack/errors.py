"""The one exception type the local stack raises for conditions a user can act on."""

from __future__ import annotations


class StackError(Exception):
    """A local-stack failure whose message is complete on its own.

    Entry points print ``str(error)`` without a traceback, so the message must say what failed, why if
    known, and what to do about it (including the tail of a service log when a service died).
    """
