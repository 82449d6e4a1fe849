"""Shared fixtures: the real local stack (brought up once per session) and unique resource names."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from persona.localstack import StackError, StackSettings, down, up


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """Entry points (the CLI, ``persona bench``) configure logging; a later test must not log into an
    earlier test's captured (then closed) stream, nor find persona's loggers at another level."""
    root, ours = logging.getLogger(), logging.getLogger("persona")
    handlers, root_level, our_level = list(root.handlers), root.level, ours.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(root_level)
    ours.setLevel(our_level)


# Seconds the session's stack may take to become healthy once launched (`persona stack up` waits 180).
STACK_HEALTH_TIMEOUT = 600.0


@pytest.fixture(scope="session")
def stack() -> Iterator[StackSettings]:
    """The local stack, healthy and initialized, for integration tests.

    Uses ``PERSONA_HOME`` (and the other PERSONA_* settings) when set, else the repository's
    ``.persona/``. An already running healthy stack is reused as is; at the end of the session only
    the services this fixture started are stopped, so a developer's running stack stays up.
    """
    settings = StackSettings.from_env(os.environ)
    try:
        # A deadline, not a timing: on a machine shared with other work the JVMs may take minutes.
        report = up(settings, timeout=STACK_HEALTH_TIMEOUT)
    except StackError as error:
        pytest.fail(f"the local stack could not be brought up:\n{error}", pytrace=False)
    yield settings
    if report.started:
        down(settings, only=report.started)


# Trino 476 takes one to three minutes to start on two busy cores; a deadline, not a timing.
TRINO_HEALTH_TIMEOUT = 600.0


@pytest.fixture(scope="session")
def trino_stack(stack: StackSettings) -> Iterator[StackSettings]:
    """The local stack plus Trino (`stack up --with trino`), started once per session when a test
    needs it, and stopped at the end only if this fixture started it."""
    try:
        report = up(stack, timeout=TRINO_HEALTH_TIMEOUT, run_init=False, with_services=("trino",))
    except StackError as error:
        pytest.fail(f"Trino could not be brought up:\n{error}", pytrace=False)
    yield stack
    if "trino" in report.started:
        down(stack, only=("trino",))


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """``unique_name(prefix)`` -> ``prefix_<12 hex>``: a name no other test or run uses.

    Valid as a Kafka topic and as a Cassandra table name (letters, digits, underscores; short).
    """

    def make(prefix: str) -> str:
        return f"{prefix}_{uuid.uuid4().hex[:12]}"

    return make
