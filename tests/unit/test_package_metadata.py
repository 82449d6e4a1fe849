"""Each workspace member declares exactly what its code imports: no more, no less.

The members' modules all live under the ``persona`` namespace, so a tool that maps top-level modules to
distributions (deptry) cannot tell persona-kafka from persona-paimon; this test maps each
``persona.<x>`` import to the member whose ``[tool.uv.build-backend] module-name`` provides it, and
every other non-stdlib import to its installed distribution.

A dependency a member needs without importing it (a flow it runs as ``python -m bytewax.run
persona.flows.cdc:build_flow()``, a library another one loads when an option is on) is declared and
also listed, with the reason, in that member's ``[tool.persona.used-without-import]``.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def normalize(name: str) -> str:
    """PEP 503 name: pyarrow, confluent-kafka and Confluent_Kafka are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, f"unparseable requirement {requirement!r}"
    return normalize(match.group(1))


@dataclass(frozen=True)
class Member:
    name: str
    path: Path
    module: str
    requirements: tuple[str, ...]
    sources: dict[str, Any]
    used_without_import: dict[str, str]

    @property
    def pyproject(self) -> str:
        return str((self.path / "pyproject.toml").relative_to(ROOT))

    @property
    def dependencies(self) -> frozenset[str]:
        return frozenset(requirement_name(r) for r in self.requirements)


def used_without_import(pyproject: dict[str, Any]) -> dict[str, Any]:
    table: dict[str, Any] = pyproject["tool"].get("persona", {}).get("used-without-import", {})
    return table


@cache
def members() -> tuple[Member, ...]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found = []
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for path in sorted(ROOT.glob(pattern)):
            if not (path / "pyproject.toml").is_file():
                continue
            data = tomllib.loads((path / "pyproject.toml").read_text())
            found.append(
                Member(
                    name=normalize(data["project"]["name"]),
                    path=path,
                    module=data["tool"]["uv"]["build-backend"]["module-name"],
                    requirements=tuple(data["project"].get("dependencies", [])),
                    sources=data["tool"]["uv"].get("sources", {}),
                    used_without_import={
                        normalize(name): reason for name, reason in used_without_import(data).items()
                    },
                )
            )
    return tuple(found)


def providing_member(module: str) -> Member | None:
    """The member whose package is ``module`` or contains it (the longest module-name wins)."""
    owners = [m for m in members() if module == m.module or module.startswith(m.module + ".")]
    return max(owners, key=lambda m: len(m.module), default=None)


@dataclass(frozen=True)
class Import:
    module: str
    where: str


def imports(member: Member) -> Iterator[Import]:
    """Every absolute import in the member's source, wherever it sits (functions, TYPE_CHECKING)."""
    for path in sorted((member.path / "src").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(alias.name, f"{path.relative_to(ROOT)}:{node.lineno}")
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    # `from persona import settings` imports the package persona.settings.
                    module = node.module
                    if module.split(".")[0] == "persona" and providing_member(module) is None:
                        module = f"{module}.{alias.name}"
                    yield Import(module, f"{path.relative_to(ROOT)}:{node.lineno}")


@dataclass(frozen=True)
class Usage:
    distribution: str
    module: str
    where: str


def usages(member: Member) -> tuple[list[Usage], list[str]]:
    """The distributions the member's imports need, and the imports nothing provides."""
    top_level = packages_distributions()
    used, unresolved = [], []
    for imported in imports(member):
        top = imported.module.split(".")[0]
        if top in sys.stdlib_module_names:
            continue
        if top == "persona":
            owner = providing_member(imported.module)
            if owner is None:
                unresolved.append(
                    f"{imported.where} imports {imported.module}, which no workspace member provides "
                    "(no member's [tool.uv.build-backend] module-name contains it)"
                )
            elif owner.name != member.name:
                used.append(Usage(owner.name, imported.module, imported.where))
            continue
        distributions = top_level.get(top)
        if not distributions:
            unresolved.append(
                f"{imported.where} imports {imported.module}, which no installed distribution provides: "
                "declare the distribution that does and run `uv lock && uv sync`"
            )
            continue
        declared = [d for d in distributions if normalize(d) in member.dependencies]
        used.append(Usage(normalize((declared or distributions)[0]), imported.module, imported.where))
    return used, unresolved


def suggested_requirement(distribution: str) -> str:
    """How the other members already declare a distribution, so one pin is kept workspace-wide."""
    for other in members():
        for requirement in other.requirements:
            if requirement_name(requirement) == distribution:
                return requirement
    return distribution


def workspace_source(distribution: str) -> str:
    return f"{distribution} = {{ workspace = true }}"


MEMBER_NAMES = frozenset(m.name for m in members())


def test_the_workspace_members_are_found() -> None:
    assert len(members()) >= 15
    assert len(MEMBER_NAMES) == len(members()), "two members share a [project].name"


@pytest.mark.parametrize("member", members(), ids=lambda m: m.name)
def test_member_declares_exactly_what_it_imports(member: Member) -> None:
    used, unresolved = usages(member)
    first_use: dict[str, Usage] = {}
    for usage in used:
        first_use.setdefault(usage.distribution, usage)

    problems = list(unresolved)
    for distribution, usage in sorted(first_use.items()):
        if distribution not in member.dependencies:
            fix = f'add "{suggested_requirement(distribution)}" to [project].dependencies'
            if distribution in MEMBER_NAMES:
                fix += f" and `{workspace_source(distribution)}` to [tool.uv.sources]"
            problems.append(f"{fix}: {usage.where} imports {usage.module}")
    without_import = member.used_without_import.keys()
    for distribution in sorted(member.dependencies - first_use.keys() - without_import):
        fix = f'remove "{distribution}" from [project].dependencies'
        if distribution in MEMBER_NAMES:
            fix += " and from [tool.uv.sources]"
        problems.append(
            f"{fix}: nothing under {member.path.relative_to(ROOT)}/src imports it (or, if it is needed "
            "without an import, say why in [tool.persona.used-without-import])"
        )
    for distribution in sorted(without_import - member.dependencies):
        problems.append(
            f'add "{suggested_requirement(distribution)}" to [project].dependencies: '
            "[tool.persona.used-without-import] names it"
        )
    for distribution in sorted(without_import & first_use.keys()):
        problems.append(
            f"remove {distribution} from [tool.persona.used-without-import]: "
            f"{first_use[distribution].where} imports it"
        )
    for distribution, reason in sorted(member.used_without_import.items()):
        if not (isinstance(reason, str) and reason.strip()):
            problems.append(f"say why {distribution} is needed in [tool.persona.used-without-import]")

    assert not problems, f"{member.name} ({member.pyproject}):\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("member", members(), ids=lambda m: m.name)
def test_member_sources_are_exactly_its_workspace_dependencies(member: Member) -> None:
    workspace_dependencies = {d for d in member.dependencies if d.startswith("persona-")}
    sources = {normalize(name): source for name, source in member.sources.items()}

    problems = []
    for name in sorted(workspace_dependencies - sources.keys()):
        problems.append(f"add `{workspace_source(name)}` to [tool.uv.sources]: {name} is a dependency")
    for name in sorted(sources.keys() - workspace_dependencies):
        problems.append(f"remove {name} from [tool.uv.sources]: it is not in [project].dependencies")
    for name in sorted(workspace_dependencies & sources.keys()):
        if sources[name] != {"workspace": True}:
            problems.append(f"make [tool.uv.sources] say `{workspace_source(name)}`, not {sources[name]}")
        if name not in MEMBER_NAMES:
            problems.append(f"{name} is not a workspace member (root [tool.uv.workspace] members)")
    dependencies = [requirement_name(r) for r in member.requirements]
    for name in sorted({d for d in dependencies if dependencies.count(d) > 1}):
        problems.append(f"{name} is listed more than once in [project].dependencies")

    assert not problems, f"{member.name} ({member.pyproject}):\n  " + "\n  ".join(problems)
