"""Every hook a plugin can implement is documented in docs/plugins.md, with the
parameters of its spec and what it returns, and exercised by at least one test (as
datasette and llm do). The specs themselves document every parameter and the return
value in their docstrings, pluggy style (``:param name:``, ``:return:``).

Hooks come from ``ramparts.hookspecs`` and from the ``hookspecs`` module of every
capability in this repository (``dialog`` adds ``ramparts_dialog_answer``).
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ramparts import hookspecs
from ramparts.plugins import installed_plugins, load_capability

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "plugins.md"
MARK = f"{hookspecs.PROJECT}_spec"  # the attribute pluggy's HookspecMarker sets


def specs_in(module: Any) -> dict[str, Callable[..., Any]]:
    return {n: f for n, f in vars(module).items() if callable(f) and hasattr(f, MARK)}


def all_specs() -> dict[str, Callable[..., Any]]:
    found = specs_in(hookspecs)
    for name, plugin in installed_plugins().items():
        if plugin.distribution in (None, "ramparts-testplugins"):
            continue  # test-only plugins (one of them is broken on purpose)
        extra = load_capability(name).hookspecs
        if isinstance(extra, ModuleType | type):
            found.update(specs_in(extra))
    return found


SPECS = all_specs()


def documented() -> dict[str, list[str]]:
    """``### `name` `` headings of docs/plugins.md, each with the parameters of the
    ``def name(...)`` in the code block under it."""
    text = DOC.read_text(encoding="utf-8")
    found: dict[str, list[str]] = {}
    for m in re.finditer(r"^### `(ramparts_\w+)`\n+```python\n(.*?)```", text, re.M | re.S):
        name, code = m.groups()
        defs = [n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.FunctionDef)]
        assert [d.name for d in defs] == [name], f"docs/plugins.md: the block under {name}"
        assert defs[0].returns is not None, f"docs/plugins.md: {name} shows no return type"
        found[name] = [a.arg for a in defs[0].args.args if a.arg != "self"]
    return found


def described() -> dict[str, list[str]]:
    """For each hook section, the list right under its code block: ``- `param`: ...``
    per parameter, then ``- returns: ...``; as the parameter names and ``returns``."""
    text = DOC.read_text(encoding="utf-8")
    found: dict[str, list[str]] = {}
    for m in re.finditer(
        r"^### `(ramparts_\w+)`\n+```python\n.*?```\n\n(.*?)\n\n", text, re.M | re.S
    ):
        name, items = m.groups()
        found[name] = [p or r for p, r in re.findall(r"^- (?:`(\w+)`|(returns)):", items, re.M)]
    return found


def test_the_specs_were_found() -> None:
    assert {"ramparts_capability", "ramparts_session_started", "ramparts_session_ended"} <= set(
        SPECS
    )
    assert "ramparts_dialog_answer" in SPECS  # a capability-defined hook


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_hook_is_documented_with_its_parameters(name: str) -> None:
    docs = documented()
    assert name in docs, f"docs/plugins.md has no '### `{name}`' section"
    assert docs[name] == list(inspect.signature(SPECS[name]).parameters), (
        f"docs/plugins.md documents {name}({', '.join(docs[name])}), "
        f"but the spec is {name}{inspect.signature(SPECS[name])}"
    )


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_parameter_and_the_return_are_described_in_the_docs(name: str) -> None:
    want = [*inspect.signature(SPECS[name]).parameters, "returns"]
    got = described().get(name)
    assert got == want, (
        f"docs/plugins.md: under '### `{name}`' list "
        + ", ".join(f"'- `{p}`: ...'" for p in want[:-1])
        + f" and '- returns: ...' (found {got})"
    )


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_spec_documents_its_parameters_and_return(name: str) -> None:
    doc = inspect.getdoc(SPECS[name]) or ""
    for param in inspect.signature(SPECS[name]).parameters:
        assert f":param {param}:" in doc, f"{name}: no ':param {param}:' in its docstring"
    assert ":return:" in doc, f"{name}: no ':return:' in its docstring"


def test_no_documented_hook_is_stale() -> None:
    assert set(documented()) <= set(SPECS)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_hook_is_exercised_by_a_test(name: str) -> None:
    """Implemented (``def name(``) or called (``.name(``) in a test or a test plugin."""
    used = re.compile(rf"(def |\.){name}\(")
    me = Path(__file__).resolve()
    for path in (ROOT / "tests").rglob("*.py"):
        if path.resolve() != me and used.search(path.read_text(encoding="utf-8")):
            return
    pytest.fail(f"no test implements or calls the hook {name}")
