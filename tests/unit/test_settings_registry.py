"""The registry: every PERSONA_* variable declared once, with a parser that names it in its errors."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from persona.settings import SETTINGS, Setting, SettingsError
from persona.settings import registry as r
from persona.settings.secret import Secret

REPO_ROOT = Path(__file__).resolve().parents[2]
# A variable name: PERSONA_ and at least one more letter (``PERSONA_*`` in prose is not a name).
NAME = re.compile(r"\bPERSONA_[A-Z0-9_]*[A-Z0-9]\b")
SCANNED_DIRS = ("libs", "flows", "tools", "tests", "bench")
SCANNED_FILES = ("dev",)


def _source_files() -> list[Path]:
    files = [REPO_ROOT / name for name in SCANNED_FILES if (REPO_ROOT / name).is_file()]
    for top in SCANNED_DIRS:
        for dirpath, dirnames, filenames in os.walk(REPO_ROOT / top):
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__pycache__"]
            files += [Path(dirpath) / f for f in filenames if f.endswith((".py", ".sh"))]
    return files


def test_every_persona_variable_the_code_names_is_declared() -> None:
    declared = {s.name for s in SETTINGS}
    named: dict[str, set[str]] = {}
    files = _source_files()
    assert len(files) > 50, "the scan found too few files to be looking at the tree"
    for path in files:
        for name in NAME.findall(path.read_text(errors="replace")):
            named.setdefault(name, set()).add(str(path.relative_to(REPO_ROOT)))
    undeclared = {name: sorted(paths) for name, paths in named.items() if name not in declared}
    assert not undeclared, f"declare these in persona.settings.registry: {undeclared}"


def test_the_scan_would_see_an_undeclared_name() -> None:
    stray = "PERSONA_" + "NOT_IN_THE_REGISTRY"
    assert NAME.findall(f'env.get("{stray}")') == [stray]
    assert NAME.findall("every ``PERSONA_*`` variable") == []


def test_each_variable_is_declared_once_under_its_module_name() -> None:
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))
    assert all(NAME.fullmatch(n) for n in names)
    module_level = [v for v in vars(r).values() if isinstance(v, Setting)]
    assert list(SETTINGS) == module_level
    for attribute, value in vars(r).items():
        if isinstance(value, Setting):
            assert value.name == "PERSONA_" + attribute, attribute


def test_docs_are_one_line_without_benchmark_numbers() -> None:
    throughput = re.compile(r"\d[\d,.]*\s*k?\s*(decisions|events|records)/s|BENCHMARKS|round \w+", re.I)
    for s in SETTINGS:
        for text in (s.doc, s.shown_default or ""):
            assert "\n" not in text and len(text) <= 120, s.name
            assert not throughput.search(text), s.name


def _as_text(value: Any) -> str:
    if isinstance(value, Secret):
        return value.reveal()  # str() of a secret is redacted
    return ",".join(value) if isinstance(value, tuple) else str(value)


def test_defaults_are_valid_values_and_derived_ones_are_described() -> None:
    for s in SETTINGS:
        if s.default is None:
            assert s.shown_default, f"{s.name}: a derived default needs its words"
        else:
            assert s.parse(_as_text(s.default)) == s.default, s.name


def test_unset_and_blank_take_the_default() -> None:
    assert r.KAFKA_PORT.get({}) == 9092
    assert r.KAFKA_PORT.get({"PERSONA_KAFKA_PORT": "  "}) == 9092
    assert r.KAFKA_PORT.given({"PERSONA_KAFKA_PORT": ""}) is None
    assert r.WAREHOUSE.get({}) is None
    assert r.KAFKA_PORT.get({"PERSONA_KAFKA_PORT": " 19092 "}) == 19092


@pytest.mark.parametrize(
    ("setting", "raw", "message"),
    [
        (r.KAFKA_PORT, "x", "PERSONA_KAFKA_PORT is not an integer: 'x'"),
        (r.KAFKA_PORT, "0", "PERSONA_KAFKA_PORT is out of range: 0"),
        (r.PARTITIONS, "0", "PERSONA_PARTITIONS must be at least 1, got 0"),
        (r.COMMIT_INTERVAL, "soon", "PERSONA_COMMIT_INTERVAL is not a number: 'soon'"),
        (r.INVENTORY_TTL, "-1", "PERSONA_INVENTORY_TTL must be > 0, got -1"),
        (r.ENRICH_SHARDS, "0", "PERSONA_ENRICH_SHARDS must be > 0, got 0"),
        (r.CASSANDRA_HOSTS, ",", "PERSONA_CASSANDRA_HOSTS names no host"),
        (r.KAFKA_HEAP, "1T", "PERSONA_KAFKA_HEAP is an invalid heap size: '1T'"),
        (r.CASSANDRA_HEAP, "2G", "PERSONA_CASSANDRA_HEAP 2G exceeds the local limit of 1G"),
        (r.LOG_LEVEL, "chatty", "PERSONA_LOG_LEVEL is not a log level: 'chatty'"),
    ],
)
def test_a_bad_value_is_an_error_naming_the_variable(setting: Setting[Any], raw: str, message: str) -> None:
    with pytest.raises(SettingsError, match="^" + re.escape(message)):
        setting.get({setting.name: raw})


def test_parsed_values() -> None:
    assert r.CASSANDRA_HOSTS.get({"PERSONA_CASSANDRA_HOSTS": " a, b ,,c"}) == ("a", "b", "c")
    assert r.LOG_LEVEL.get({"PERSONA_LOG_LEVEL": "debug"}) == "DEBUG"
    assert r.CASSANDRA_HEAP.get({"PERSONA_CASSANDRA_HEAP": "1G"}) == "1G"
    assert r.HOME.get({"PERSONA_HOME": "rel/h"}) == Path("rel/h")
    assert r.local_bootstrap(19092) == "127.0.0.1:19092"
    assert r.default_warehouse(Path("h")) == Path("h/warehouse")


def test_check_validates_a_value_built_by_hand() -> None:
    r.KAFKA_PORT.check(19092)
    with pytest.raises(SettingsError, match="PERSONA_KAFKA_PORT is out of range: 70000"):
        r.KAFKA_PORT.check(70000)
