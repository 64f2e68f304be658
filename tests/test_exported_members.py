"""The declared API, pinned (as httpx pins its own): what ``ramparts``,
``ramparts.toolkit`` and ``ramparts.errors`` export is an explicit list, every name
resolves, and every name is documented. Adding or removing a name is an API change:
change the list here on purpose, and docs/plugins.md with it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import ramparts
import ramparts.errors
import ramparts.toolkit
from ramparts.app import App
from ramparts.commands import RunningApp

RAMPARTS = [
    "CallContext",
    "Capability",
    "CommandError",
    "CommandFailed",
    "CommandTimeout",
    "ConfigContext",
    "ConfigError",
    "Held",
    "InvalidArgs",
    "MenuEvent",
    "MenuItem",
    "Menus",
    "NotAllowed",
    "OutOfScope",
    "PluginError",
    "RampartsError",
    "RunningApp",
    "SecondInstance",
    "SessionEnded",
    "SessionResources",
    "TooLarge",
    "Window",
    "WindowClosed",
    "WindowEvent",
    "WindowSession",
    "WindowState",
    "build_menus",
    "command",
    "errors",
    "hookimpl",
    "hookspec",
    "on",
    "on_menu",
    "on_second_instance",
    "on_window_event",
    "strict_loads",
]

TOOLKIT = [
    "BASE_DIRS",
    "DEFAULT_PORTS",
    "FALLBACK_CHARSET",
    "ConfigContext",
    "Grants",
    "IPAddress",
    "NotARegularFile",
    "PathScope",
    "RateLimit",
    "Resolver",
    "Target",
    "UrlPattern",
    "UrlScope",
    "address_kind",
    "atomic_write",
    "base_dirs",
    "check_path_syntax",
    "compile_glob",
    "declared_charset",
    "encode_text",
    "escape_glob",
    "fold_name",
    "join_url",
    "make_app_dir",
    "open_checked",
    "open_dir_checked",
    "os_bytes",
    "os_error",
    "parse_url",
    "text_codec",
]

ERRORS = [
    "MISSING",
    "BackendError",
    "BuildError",
    "CommandError",
    "CommandFailed",
    "CommandTimeout",
    "ConfigError",
    "InvalidArgs",
    "NotAllowed",
    "OutOfScope",
    "PluginError",
    "RampartsError",
    "SessionEnded",
    "TooLarge",
    "VerificationError",
]

MODULES = [(ramparts, RAMPARTS), (ramparts.toolkit, TOOLKIT), (ramparts.errors, ERRORS)]
EXPORTED = [(m, name) for m, names in MODULES for name in names]


@pytest.mark.parametrize(("module", "names"), MODULES, ids=lambda x: getattr(x, "__name__", ""))
def test_all_is_the_pinned_list(module: ModuleType, names: list[str]) -> None:
    assert sorted(module.__all__) == sorted(names)
    assert len(set(module.__all__)) == len(module.__all__)


def _id(param: Any) -> str:
    return param if isinstance(param, str) else param.__name__


@pytest.mark.parametrize(("module", "name"), EXPORTED, ids=_id)
def test_every_name_resolves(module: ModuleType, name: str) -> None:
    assert getattr(module, name) is not None
    assert name in dir(module)


def _defined_in(module_name: str, name: str) -> str:
    """The source of the module that assigns ``name``, following ``from x import name``
    re-exports (eager, or under ``TYPE_CHECKING`` for the names loaded on first use)."""
    module = importlib.import_module(module_name)
    text = Path(inspect.getfile(module)).read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(text)):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and any(a.name == name and a.asname in (None, name) for a in node.names)
        ):
            return _defined_in(node.module, name)
    return text


def _documented_data(module: ModuleType, name: str) -> bool:
    """A constant or type alias: a ``#:`` comment above its assignment or a string
    below it where it is defined, or a ``:data:`` entry in the exporting module's
    docstring (a constant cannot carry a docstring of its own)."""
    if f":data:`{name}`" in (module.__doc__ or ""):
        return True
    text = _defined_in(module.__name__, name)
    lines = text.splitlines()
    body = ast.parse(text).body
    for i, node in enumerate(body):
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
            below = body[i + 1] if i + 1 < len(body) else None
            is_string = isinstance(below, ast.Expr) and isinstance(below.value, ast.Constant)
            return above.startswith("#:") or is_string
    return False


@pytest.mark.parametrize(("module", "name"), EXPORTED, ids=_id)
def test_every_name_is_documented(module: ModuleType, name: str) -> None:
    value = getattr(module, name)
    if inspect.isclass(value) or inspect.isroutine(value) or inspect.ismodule(value):
        # Its own docstring, not one inherited from a base class.
        doc = vars(value).get("__doc__") if inspect.isclass(value) else value.__doc__
        assert doc and doc.strip(), f"{module.__name__}.{name} has no docstring"
    else:
        assert _documented_data(module, name), f"{module.__name__}.{name} is not documented"


def test_running_app_is_what_app_provides() -> None:
    """``ctx.app`` is typed as the narrow ``RunningApp``; the real ``App`` must have all
    of it, with the same signatures."""
    members = [n for n in vars(RunningApp) if not n.startswith("_")]
    assert sorted(members) == ["close_window", "emit", "open_window", "pm", "window"]
    for name in members:
        if name == "pm":
            assert "pm" in inspect.getsource(App.__init__)  # an instance attribute
            continue
        ours, theirs = getattr(RunningApp, name), getattr(App, name)
        assert inspect.signature(ours) == inspect.signature(theirs), name


def test_session_ended_is_one_class_everywhere() -> None:
    from ramparts.bridge import session

    assert ramparts.SessionEnded is ramparts.errors.SessionEnded is session.SessionEnded
    assert issubclass(ramparts.SessionEnded, ramparts.NotAllowed)
    assert ramparts.SessionEnded("gone").to_wire()["code"] == "not_allowed"


#: The modules a plugin may import, and the one more its tests may.
DECLARED = {
    "ramparts": ramparts,
    "ramparts.toolkit": ramparts.toolkit,
    "ramparts.errors": ramparts.errors,
}


def undeclared_imports(source: str, *, tests: bool = False) -> list[str]:
    """Every use of Ramparts in ``source`` outside the declared API: imports of other
    modules, names not in a module's ``__all__``, and ``ramparts.<name>`` attributes
    that ``ramparts`` does not export. ``tests`` also allows ``ramparts.testing``."""
    import ramparts.testing

    declared: dict[str, ModuleType] = {**DECLARED}
    if tests:
        declared["ramparts.testing"] = ramparts.testing
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "ramparts":
            module = declared.get(node.module or "")
            if module is None:
                found.append(f"from {node.module} import ...")
                continue
            found += [
                f"from {node.module} import {a.name}"
                for a in node.names
                if a.name not in module.__all__
            ]
        elif isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.startswith("ramparts.")]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "ramparts"
            and node.attr not in ramparts.__all__
        ):
            found.append(f"ramparts.{node.attr}")
    return found


def test_the_checker_sees_internal_uses() -> None:
    source = """
import ramparts
import ramparts.bridge.session
from ramparts import command, Command
from ramparts.toolkit.scope import PathScope
from ramparts.testing import open_bridge
ramparts.hookimpl
ramparts.app
"""
    assert undeclared_imports(source) == [
        "import ramparts.bridge.session",
        "from ramparts import Command",
        "from ramparts.toolkit.scope import ...",
        "from ramparts.testing import ...",
        "ramparts.app",
    ]
    assert "from ramparts.testing import ..." not in undeclared_imports(source, tests=True)


def test_docs_plugins_md_uses_only_the_declared_api() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text("utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)
    assert len(blocks) > 5
    found = [use for block in blocks for use in undeclared_imports(block, tests=True)]
    assert not found, f"docs/plugins.md code uses internal API: {found}"
    # In the prose too: a dotted path into an internal module, e.g. `ramparts.bridge.x`
    # (not `ramparts.preview.read`, the page's JS API).
    internal = [f"ramparts.{m.name}" for m in pkgutil.iter_modules(ramparts.__path__)]
    internal += [
        f"ramparts.toolkit.{m.name}" for m in pkgutil.iter_modules(ramparts.toolkit.__path__)
    ]
    internal = [m for m in internal if m not in DECLARED and m != "ramparts.testing"]
    named = [m for m in internal if re.search(rf"\b{re.escape(m)}\b", text)]
    assert not named, f"docs/plugins.md names internal modules: {named}"
