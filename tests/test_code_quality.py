"""The project's own standards, enforced in the same test run CI uses."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_is_clean() -> None:
    result = run("ruff", "check", "core", "plugins", "tests", "examples", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    """Python code and the Python blocks of the docs, formatted one way."""
    result = run("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_on_the_core_and_the_plugins() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_architecture_contracts_hold() -> None:
    """The layers, the backend boundary and the plugins' declared API ([tool.importlinter])."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


SOURCES = (
    "ramparts", "ramparts_fs", "ramparts_shell", "ramparts_http", "ramparts_dialog",
    "ramparts_updater",
)  # fmt: skip


def test_no_import_cycle() -> None:
    """No module reaches itself through imports (annotations under TYPE_CHECKING aside):
    the layers contract cannot see a cycle inside one layer."""
    graph = grimp.build_graph(*SOURCES, exclude_type_checking_imports=True)
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back is not None and imported != module:
                cycles.append(" -> ".join((module, *back)))
    assert cycles == []


#: Lines a function may take: one that is longer is one that cannot be read at once.
MAX_FUNCTION_LINES = 60


def test_functions_are_short() -> None:
    roots = [ROOT / "core" / "src", *sorted((ROOT / "plugins").glob("*/src"))]
    long = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines = (node.end_lineno or node.lineno) - node.lineno + 1
                    if lines > MAX_FUNCTION_LINES:
                        long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert long == []


def test_modules_import_only_what_others_declare() -> None:
    """``from ramparts.x import name`` inside the core and the plugins names something
    ``ramparts.x`` declares in ``__all__``: a module's interface is written down."""
    roots = [ROOT / "core" / "src", *sorted((ROOT / "plugins").glob("*/src"))]
    undeclared = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module):
                    continue
                if node.module.split(".")[0] != "ramparts":
                    continue
                declared = getattr(importlib.import_module(node.module), "__all__", None)
                if declared is None:
                    continue
                for alias in node.names:
                    name = alias.name
                    submodule = f"{node.module}.{name}" in sys.modules
                    dunder = name.startswith("__") and name.endswith("__")
                    if name not in declared and not submodule and not dunder:
                        undeclared.append(f"{path.relative_to(ROOT)}: {node.module}.{name}")
    assert undeclared == []
