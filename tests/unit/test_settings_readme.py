"""The README's configuration table is the registry's rendering, and docs/ has each longer section."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from persona.settings import SETTINGS
from persona.settings import registry as r
from persona.settings.readme import (
    BEGIN,
    DETAILS,
    END,
    BlockMissing,
    current_block,
    main,
    render_block,
    render_table,
    replace_block,
    shown_default,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_table_is_the_registry_s() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert current_block(readme) == render_block(), (
        "README.md's configuration table differs from persona.settings.registry: run "
        "`uv run python -m persona.settings.readme --write README.md`"
    )


def test_each_longer_explanation_has_its_section_in_docs() -> None:
    docs = (REPO_ROOT / DETAILS).read_text()
    headed = set(re.findall(r"^## `(PERSONA_[A-Z0-9_]+)`$", docs, re.M))
    assert headed == {s.name for s in SETTINGS if s.details}
    assert (REPO_ROOT / "README.md").read_text().count(f"]({DETAILS})") >= 1


def test_one_row_per_variable_one_line_each() -> None:
    rows = render_table().splitlines()
    assert rows[:2] == ["| variable | default | meaning |", "| --- | --- | --- |"]
    assert len(rows) == 2 + len(SETTINGS)
    assert rows[2].startswith("| `PERSONA_HOME` |")
    enrich_epoch = next(row for row in rows if row.startswith("| `PERSONA_ENRICH_EPOCH` |"))
    assert "| the commit interval |" in enrich_epoch
    assert f"([more]({DETAILS}#persona_enrich_epoch))" in enrich_epoch


def test_defaults_as_shown() -> None:
    assert [shown_default(s) for s in (r.KAFKA_PORT, r.COMMIT_INTERVAL, r.INVENTORY_TABLE)] == [
        "9092",
        "10",
        "`inventory_projection`",
    ]
    assert shown_default(r.TOPIC_PREFIX) == "empty"
    assert shown_default(r.CASSANDRA_HOSTS) == "`127.0.0.1`"
    assert shown_default(r.WAREHOUSE) == "`$PERSONA_HOME/warehouse`"


def test_the_block_is_replaced_and_the_rest_kept() -> None:
    text = f"# t\n\nbefore\n\n{BEGIN}\nstale\n{END}\n\nafter\n"
    replaced = replace_block(text)
    assert replaced == f"# t\n\nbefore\n\n{render_block()}\n\nafter\n"
    assert replace_block(replaced) == replaced
    with pytest.raises(BlockMissing):
        replace_block("no markers")
    with pytest.raises(BlockMissing):
        replace_block(f"{END}\n{BEGIN}")


def test_the_tool_checks_and_writes(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{BEGIN}\n{END}\n")
    assert main(["--check", str(readme)]) == 1
    assert main(["--write", str(readme)]) == 0
    assert main(["--check", str(readme)]) == 0
    assert readme.read_text() == f"intro\n{render_block()}\n"
    (tmp_path / "other.md").write_text("no block")
    assert main(["--check", str(tmp_path / "other.md")]) == 1
