"""Menus without a webview: the config's validation (each error names its key), the
accelerator spelling, and what ``ramparts check``, ``ramparts audit`` and ``ramparts
types`` say about the menus' page grants."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from app_folders import write_app
from grant_reports import check_lines, refusals
from test_signing import manifest_for, write_signed

from ramparts.app import App
from ramparts.config import load_config
from ramparts.errors import ConfigError
from ramparts.menuconfig import MenuItem, accelerator
from ramparts.release.audit import audit, render_table

MENUS = """
[[tool.ramparts.menu]]
label = "File"
items = [
  { id = "file.open", label = "Open", accelerator = "ctrl+shift+o" },
  { separator = true },
  { label = "Export", items = [{ id = "export.pdf", label = "PDF", enabled = false }] },
]

[tool.ramparts.context_menu]
items = [{ id = "refresh", label = "Refresh" }]

[[tool.ramparts.windows]]
label = "main"
menu_events = ["file.open", "refresh"]

[[tool.ramparts.windows]]
label = "tool"
"""


def _app(tmp_path: Path, tables: str) -> Path:
    return write_app(tmp_path / "app", capabilities=textwrap.dedent(tables), module="menu_cfg_cmds")


def test_menus_are_read(tmp_path: Path) -> None:
    config = load_config(_app(tmp_path, MENUS))
    (file,) = config.menus.menu
    assert file.label == "File" and file.items is not None
    assert file.items[0] == MenuItem(id="file.open", label="Open", accelerator="Ctrl+Shift+O")
    assert file.items[1].is_separator
    export = file.items[2]
    assert export.items == (MenuItem(id="export.pdf", label="PDF", enabled=False),)
    assert config.menus.context_menu == (MenuItem(id="refresh", label="Refresh"),)
    assert config.window_named("main").menu_events == ("file.open", "refresh")  # type: ignore[union-attr]
    assert config.window_named("tool").menu_events == ()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "spelled"),
    [
        ("ctrl+o", "Ctrl+O"),
        ("Shift+Ctrl+F5", "Ctrl+Shift+F5"),
        ("alt+pagedown", "Alt+PageDown"),
        ("Ctrl++", "Ctrl+Plus"),
        ("super+1", "Super+1"),
        ("Delete", "Delete"),
        ("Ctrl+Ctrl+O", None),
        ("Hyper+O", None),
        ("Ctrl+F25", None),
        ("Ctrl+é", None),
        ("Ctrl+", None),
    ],
)
def test_accelerators(text: str, spelled: str | None) -> None:
    assert accelerator(text) == spelled


@pytest.mark.parametrize(
    ("tables", "key", "expected"),
    [
        (
            '[[tool.ramparts.menu]]\nlabel = "File"\nitems = [{ id = "a", label = "" }]',
            "tool.ramparts.menu[0].items[0].label",
            "a non-empty string",
        ),
        (
            '[[tool.ramparts.menu]]\nlabel = "File"\nitems = [{ id = "a", label = "A" },'
            ' { id = "a", label = "B" }]',
            "tool.ramparts.menu",
            "'a' is used twice",
        ),
        (
            '[[tool.ramparts.menu]]\nlabel = "File"\nitems = [{ id = "a", label = "A" }]\n'
            '[tool.ramparts.context_menu]\nitems = [{ id = "a", label = "B" }]',
            "tool.ramparts.menu",
            "'a' is used twice",
        ),
        (
            '[[tool.ramparts.menu]]\nlabel = "File"\n'
            'items = [{ id = "a", label = "A", accelerator = "Ctrl+Hyper+A" }]',
            "tool.ramparts.menu[0].items[0].accelerator",
            "like 'Ctrl+Shift+O'",
        ),
        (
            '[tool.ramparts.context_menu]\nitems = [{ id = "a", label = "A", accelerator = "F2" }]',
            "tool.ramparts.context_menu.items[0].accelerator",
            "only the app menu has them",
        ),
        (
            '[[tool.ramparts.menu]]\nlabel = "File"\nitems = [{ label = "A" }]',
            "tool.ramparts.menu[0].items[0].id",
            "an id of letters",
        ),
        (
            '[[tool.ramparts.menu]]\nlabel = "File"\nitems = [{ id = "a", lable = "A" }]',
            "tool.ramparts.menu[0].items[0].lable",
            "did you mean 'label'?",
        ),
        (
            '[[tool.ramparts.menu]]\nid = "file"\nlabel = "File"\nitems = []',
            "tool.ramparts.menu[0].id",
            "no id on a submenu",
        ),
        (
            '[[tool.ramparts.menu]]\nlabel = "File"',
            "tool.ramparts.menu[0].items",
            "the menu's items",
        ),
        (
            '[[tool.ramparts.menu]]\nlabel = "File"\nitems = [{ separator = true, label = "x" }]',
            "tool.ramparts.menu[0].items[0].separator",
            "no other key",
        ),
        (
            '[tool.ramparts.context_menu]\nitems = [{ id = "a", label = "A", enabled = "no" }]',
            "tool.ramparts.context_menu.items[0].enabled",
            "true or false",
        ),
        (
            '[tool.ramparts.context_menu]\nitems = [{ id = "a", label = "A" }]\n'
            '[[tool.ramparts.windows]]\nlabel = "main"\nmenu_events = ["b"]',
            "tool.ramparts.windows[0].menu_events",
            "one of the ids of items",
        ),
        (
            '[tool.ramparts.window]\nmenu_events = ["not an id"]',
            "tool.ramparts.window.menu_events",
            "one of the ids of items",
        ),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, tables: str, key: str, expected: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(_app(tmp_path, tables))
    assert e.value.key == key, str(e.value)
    assert expected in str(e.value)


def test_check_shows_the_menus_and_their_page_grants(tmp_path: Path) -> None:
    lines, _ = check_lines(_app(tmp_path, MENUS))
    assert "menus:        app menu: File; context menu items: refresh" in lines
    assert "  main         menu events to the page: file.open, refresh" in lines
    assert "  tool         menu events to the page: none" in lines


def test_audit_shows_the_menu_grants(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from PyInstaller.archive.writers import CArchiveWriter

    from ramparts.release.signing import hash_tree, utc_stamp

    root = tmp_path / "artifact"
    (root / "_internal" / "app").mkdir(parents=True)
    (root / "_internal" / "app" / "pyproject.toml").write_text(
        (_app(tmp_path, MENUS) / "pyproject.toml").read_text()
    )
    CArchiveWriter(str(root / "test"), [], "libpython3.11.so")
    expires = utc_stamp(datetime.now(UTC) + timedelta(days=1))
    write_signed(root, manifest_for(hash_tree(root), expires=expires), None)
    result = audit(root, [], {}, allow_unverified=True)
    table = render_table(result).splitlines()
    assert "window main menu events: file.open, refresh" in table
    assert "window tool menu events: none" in table
    assert json.loads(json.dumps(result.to_json()))["menu_events"] == {
        "main": ["file.open", "refresh"],
        "tool": [],
    }


def test_types_declare_the_granted_menu_events(tmp_path: Path) -> None:
    from ramparts.typescript import app_declarations

    loaded = App.load(_app(tmp_path, MENUS))
    dts = app_declarations(loaded.config, loaded.registry, "main")
    good = [
        'ramparts.events.on("ramparts:menu", (p) => { const m: "app" | "context" = p.menu; m; });',
        'ramparts.events.on("ramparts:menu", (p) => { if (p.id === "refresh") p.window; });',
    ]
    wrong = ['ramparts.events.on("ramparts:menu", (p) => { if (p.id === "export.pdf") {} });']
    refusals(tmp_path, dts, good, wrong)  # export.pdf is not granted to main
    tool = app_declarations(loaded.config, loaded.registry, "tool")
    assert "ramparts:menu" not in tool  # granted nothing: no typed listener


BUILT = """
from ramparts import MenuItem, Menus, build_menus


@build_menus
def menus() -> Menus:
    return Menus(
        menu=[MenuItem.submenu("File", [
            MenuItem.item("file.open", "Open", accelerator="ctrl+o"),
            MenuItem.separator(),
            MenuItem.item("file.quit", "Quit", enabled=False),
        ])],
        context_menu=[MenuItem.item("refresh", "Refresh")],
    )
"""


def _built_app(tmp_path: Path, commands: str, tables: str = "", module: str = "menus_a") -> Path:
    """An app whose commands module (a new name each time: Python imports a module
    once) is ``commands``."""
    return write_app(
        tmp_path / "app",
        capabilities=textwrap.dedent(tables),
        commands=textwrap.dedent(commands),
        module=module,
    )


def test_menus_built_in_python(tmp_path: Path) -> None:
    tables = '[[tool.ramparts.windows]]\nlabel = "main"\nmenu_events = ["refresh"]\n'
    loaded = App.load(_built_app(tmp_path, BUILT, tables))
    (file,) = loaded.menus.menu
    assert file.items is not None
    assert file.items[0] == MenuItem(id="file.open", label="Open", accelerator="Ctrl+O")
    assert file.items[1].is_separator and file.items[2].enabled is False
    assert loaded.menus.context_menu == (MenuItem(id="refresh", label="Refresh"),)
    window = loaded._menus("main")  # what the backend gets for each window
    assert window.bar == loaded.menus.menu and window.context == loaded.menus.context_menu


@pytest.mark.parametrize(
    ("commands", "tables", "key", "expected"),
    [
        (
            BUILT.replace('"Refresh"', '""'),
            "",
            "{m}.menus().context_menu[0].label",
            "a non-empty string",
        ),
        (
            BUILT.replace('"refresh"', '"file.open"'),
            "",
            "{m}.menus().menu",
            "'file.open' is used twice",
        ),
        (
            BUILT.replace('accelerator="ctrl+o"', 'accelerator="ctrl+hyper"'),
            "",
            "{m}.menus().menu[0].items[0].accelerator",
            "like 'Ctrl+Shift+O'",
        ),
        (
            BUILT.replace("    return Menus(", "    return None\n    Menus("),
            "",
            "{m}.menus()",
            "a ramparts.Menus",
        ),
        (
            BUILT,
            '[tool.ramparts.context_menu]\nitems = [{ id = "x", label = "X" }]',
            "tool.ramparts.menu",
            "not both",
        ),
        (
            BUILT,
            '[[tool.ramparts.windows]]\nlabel = "main"\nmenu_events = ["nope"]',
            "tool.ramparts.windows[main].menu_events",
            "one of the app's menu items: file.open, file.quit, refresh",
        ),
        (
            "",
            '[tool.ramparts.window]\nmenu_events = ["nope"]',
            "tool.ramparts.windows[main].menu_events",
            "one of the app's menu items: none",
        ),
    ],
)
def test_menus_built_in_python_are_checked(
    tmp_path: Path, commands: str, tables: str, key: str, expected: str
) -> None:
    module = f"menus_{abs(hash((commands, tables)))}"
    with pytest.raises(ConfigError) as e:
        App.load(_built_app(tmp_path, commands, tables, module))
    assert e.value.key == key.format(m=module), str(e.value)
    assert expected in str(e.value)


def test_check_shows_menus_built_in_python(tmp_path: Path) -> None:
    lines, _ = check_lines(_built_app(tmp_path, BUILT, module="menus_b"))
    assert "menus:        built in Python (@build_menus): app menu: File" in lines
