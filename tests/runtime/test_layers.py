"""`tracker.runtime` sits above everything and wires it: nothing below may import it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tracker

pytestmark = pytest.mark.once
ROOT = Path(tracker.__file__).parent


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_nothing_below_runtime_imports_it():
    offenders = [
        str(path.relative_to(ROOT.parent))
        for path in sorted(ROOT.rglob("*.py"))
        if "runtime" not in path.relative_to(ROOT).parts
        and any(name.split(".")[:2] == ["tracker", "runtime"] for name in _imported(path))
    ]
    assert offenders == []
