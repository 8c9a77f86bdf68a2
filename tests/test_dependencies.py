"""What the code imports is declared, in ranges the lock file (what CI installs) satisfies."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent


def declared(extra: str | None = None) -> dict[str, Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lines = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return {canonicalize_name(r.name): r for r in map(Requirement, lines)}


def locked() -> dict[str, list[Version]]:
    """name -> the versions the lock pins (one per Python range for some)."""
    pins: dict[str, list[Version]] = {}
    text = (REPO / "requirements.lock").read_text()
    for name, version in re.findall(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", text, flags=re.M):
        pins.setdefault(canonicalize_name(name), []).append(Version(version))
    return pins


def imported_distributions() -> set[str]:
    """Distributions the package's modules import at top level or in functions."""
    modules: set[str] = set()
    for path in (REPO / "promptgraph").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    owners = packages_distributions()
    return {
        canonicalize_name(owners[module][0])
        for module in modules
        if module not in sys.stdlib_module_names and module != "promptgraph" and module in owners
    }


def test_every_imported_distribution_is_declared():
    missing = imported_distributions() - set(declared())
    assert missing == set(), f"imported but not in pyproject's dependencies: {missing}"
    assert {"graphql-core", "starlette", "pydantic", "pydantic-settings"} <= set(declared())


def test_every_declared_range_is_satisfied_by_the_lock():
    pins = locked()
    for requirement in [*declared().values(), *declared("test").values()]:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock"
        for version in pins[name]:
            assert requirement.specifier.contains(version), f"{name} {version} vs {requirement}"
        # A range with no floor, or one below what was tested, is a guess: every range
        # starts at a tested version.
        floors = [s for s in requirement.specifier if s.operator in {">=", "=="}]
        assert floors, f"{name} has no floor"
        assert all(Version(s.version) <= min(pins[name]) for s in floors)
        assert any(s.operator in {"<", "=="} for s in requirement.specifier), f"{name}: no cap"


def test_sqlalchemy_floor_excludes_the_releases_that_cannot_start_on_sqlite():
    sqlalchemy = declared()["sqlalchemy"]
    assert not any(sqlalchemy.specifier.contains(f"2.0.{n}") for n in range(30, 38))


def test_every_lock_entry_has_hashes():
    entries = re.split(r"\n(?=[A-Za-z0-9])", (REPO / "requirements.lock").read_text())
    pinned = [entry for entry in entries if "==" in entry.split("\n", 1)[0]]
    assert len(pinned) >= 40
    for entry in pinned:
        assert "--hash=sha256:" in entry, entry.split("\n", 1)[0]
