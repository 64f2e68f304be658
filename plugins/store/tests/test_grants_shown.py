"""What ``ramparts check``, ``ramparts audit`` and ``ramparts types`` say about the
``clipboard`` and ``store`` grants: each names exactly the commands ``allow`` lists and
the options the app set, and a built app holding one of these plugins undeclared fails
its audit even where the auditor has not installed it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_folders import write_app
from grant_reports import audited, check_lines, refused_as, types_text

from ramparts.app import App
from ramparts.release.audit import FIRST_PARTY, render_table
from ramparts.typescript import app_declarations

CAPABILITIES = """
[tool.ramparts.capabilities.clipboard]
allow = ["write_text"]
max_bytes = 4096

[tool.ramparts.capabilities.store]
allow = ["get", "set", "keys"]
stores = ["settings", "recent"]
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return write_app(tmp_path / "app", capabilities=CAPABILITIES)


def test_check_shows_the_grants(app: Path) -> None:
    lines, routes = check_lines(app)
    assert "  clipboard    installed; allow = ['write_text']" in lines
    assert "               max_bytes = 4096" in lines
    assert "  store        installed; allow = ['get', 'set', 'keys']" in lines
    assert '               stores = ["settings", "recent"]' in lines
    for route in ("clipboard.write_text", "store.get", "store.set", "store.keys"):
        assert route in routes
    assert "clipboard.read_text" not in routes and "store.clear" not in routes


def test_audit_shows_the_grants_and_finds_an_undeclared_store(tmp_path: Path) -> None:
    assert FIRST_PARTY["store"] == "ramparts_store"
    assert FIRST_PARTY["clipboard"] == "ramparts_clipboard"
    clipboard = {"allow": ["write_text"], "options": {"max_bytes": 4096}}
    store = {"allow": ["get", "set"], "options": {"stores": ["settings"]}}
    # Nothing installed in the auditor's environment: the core knows these plugins.
    hidden = audited(tmp_path / "a", {"clipboard": clipboard}, "ramparts_store")
    assert hidden.undeclared == {"store": ["ramparts_store"]} and not hidden.ok
    both = {"clipboard": clipboard, "store": store}
    shown = audited(tmp_path / "b", both, "ramparts_store")
    assert shown.ok and shown.undeclared == {}
    table = render_table(shown).splitlines()
    assert f"{'clipboard':12} {'write_text':24} {json.dumps({'max_bytes': 4096})}" in table
    assert f"{'store':12} {'get':24} {json.dumps({'stores': ['settings']})}" in table
    assert f"{'':12} {'set':24} " in table


def test_types_declare_exactly_the_allowed_commands(app: Path, tmp_path: Path) -> None:
    loaded = App.load(app)
    dts = app_declarations(loaded.config, loaded.registry)
    assert '"clipboard.write_text": { args: { text: string; }; result: null };' in dts
    assert '"store.keys": { args: { store: string; }; result: string[] };' in dts
    assert "clipboard.read_text" not in dts and "store.clear" not in dts
    good = [
        'await ramparts.clipboard.write_text({ text: "copied" });',
        'await ramparts.store.set({ store: "settings", key: "k", value: { a: [1, null] } });',
        'const v: unknown = await ramparts.store.get({ store: "settings", key: "k" });',
        'const names: string[] = await ramparts.store.keys({ store: "recent" });',
        'ramparts.events.on("store:changed", (p: unknown) => {});',
    ]
    wrong = [
        ("await ramparts.clipboard.read_text();", "TS2339"),  # not in allow
        ('await ramparts.invoke("store.clear", { store: "settings" });', "TS2345"),
        ("await ramparts.clipboard.write_text({ text: 3 });", "TS2322"),
        ('await ramparts.store.get({ store: "settings" });', "TS2345"),  # key missing
    ]
    # One compile: tsc must accept every good line and refuse each wrong one, on its line.
    refused_as(tmp_path, dts, good, wrong)


def test_types_from_the_command_line(app: Path, tmp_path: Path) -> None:
    text = types_text(app, tmp_path)
    assert '"clipboard.write_text"' in text and '"store.set"' in text
