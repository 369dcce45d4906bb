"""Imports between the tracker's packages run one way, down the layers docs/architecture.md
draws: `tracker.runtime` above everything and nothing below imports it; `tracker.common` imports
no other package; the dashboard may use the API's serializers, never the other way round.

A package missing from `LAYERS` fails the test: a new one has to be given its place."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tracker

pytestmark = pytest.mark.once
ROOT = Path(tracker.__file__).parent

# Bottom to top. A package may import those of the layers below its own, none of its own layer
# (siblings stay independent) and none above.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"common"}),  # clock, outbound HTTP, logging, counters, SQL dialect helpers
    frozenset({"exchanges", "accounts"}),
    frozenset({"markets"}),
    frozenset({"ingest", "alerts", "live", "monitoring"}),  # writers and the event's followers
    frozenset({"api"}),
    frozenset({"dashboard"}),  # its forms run the API's own serializers
    frozenset({"runtime"}),
)
RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}


def _module(path: Path) -> list[str]:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imported(path: Path) -> set[str]:
    """Every module `path` imports, relative imports made absolute."""
    package = _module(path) if path.name == "__init__.py" else _module(path)[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names.add(module)
            # `from tracker import markets` names the package in the alias.
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _crossings() -> list[tuple[str, str, str]]:
    """(file, its package, the other tracker package it imports) for every import between
    two of the tracker's packages."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        inside = path.relative_to(ROOT).parts
        if len(inside) < 2:
            continue  # tracker/__init__.py
        for name in _imported(path):
            parts = name.split(".")
            if (
                len(parts) >= 2
                and parts[0] == "tracker"
                and parts[1] != inside[0]
                and (ROOT / parts[1]).is_dir()
            ):
                found.append((str(path.relative_to(ROOT.parent)), inside[0], parts[1]))
    return sorted(set(found))


def test_every_package_has_its_layer():
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert packages - set(RANK) == set(), "give the new package its place in LAYERS"
    assert set(RANK) - packages == set(), "a package in LAYERS that is gone"


def test_nothing_below_runtime_imports_it():
    assert [path for path, _, other in _crossings() if other == "runtime"] == []


def test_common_imports_no_other_part_of_the_tracker():
    assert [(path, other) for path, package, other in _crossings() if package == "common"] == []


def test_the_api_does_not_import_the_dashboard():
    assert [
        path for path, package, other in _crossings() if (package, other) == ("api", "dashboard")
    ] == []


def test_imports_run_down_the_layers():
    offenders = [
        f"{path} imports tracker.{other}"
        for path, package, other in _crossings()
        if RANK[other] >= RANK[package]
    ]
    assert offenders == []
