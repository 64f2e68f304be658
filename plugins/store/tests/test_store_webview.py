"""The ``store`` capability from page JS in a real webview, on both engines: the
commands, the change events the page hears (also from another window's page), the
refusals, and the file on disk after the app has exited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_folders import write_app
from gtk_display import engine, gtk_display  # noqa: F401  # fixtures: both webview engines

from ramparts.testing import app_dirs, eval_in_app

pytestmark = [pytest.mark.webview, pytest.mark.usefixtures("engine")]

CAPABILITIES = """
[tool.ramparts.capabilities.store]
allow = ["get", "set", "delete", "keys"]
stores = ["settings"]
max_value_bytes = 100
"""
SCRIPT = """
const heard = [];
ramparts.events.on("store:changed", (p) => heard.push(p));
const s = { store: "settings" };
const r = {};
await ramparts.store.set({ ...s, key: "theme", value: "dark" });
await ramparts.store.set({ ...s, key: "window", value: { w: 800, h: [1, null, true] } });
r.theme = await ramparts.store.get({ ...s, key: "theme" });
r.window = await ramparts.store.get({ ...s, key: "window" });
r.missing = await ramparts.store.get({ ...s, key: "nope" });
r.deleted = await ramparts.store.delete({ ...s, key: "theme" });
r.keys = await ramparts.store.keys(s);
r.big = await ramparts.store.set({ ...s, key: "big", value: "x".repeat(200) }).catch((e) => e.code);
r.other = await ramparts.store.get({ store: "secrets", key: "a" }).catch((e) => e.code);
r.badKey = await ramparts.store.set({ ...s, key: "", value: 1 }).catch((e) => e.code);
r.names = Object.keys(ramparts.store).sort();
r.clear = await ramparts.invoke("store.clear", s).catch((e) => e.code);
const deadline = Date.now() + 20000;
while (heard.length < 3 && Date.now() < deadline) await new Promise((f) => setTimeout(f, 20));
r.heard = heard;
return r;
"""


def test_the_page_uses_its_stores(tmp_path: Path, ramparts_home: Path) -> None:
    app = write_app(tmp_path / "app", capabilities=CAPABILITIES)
    result = eval_in_app(app, SCRIPT, timeout=60)
    changed = [
        {"store": "settings", "key": "theme", "action": "set"},
        {"store": "settings", "key": "window", "action": "set"},
        {"store": "settings", "key": "theme", "action": "delete"},
    ]
    assert result == {
        "theme": "dark",
        "window": {"w": 800, "h": [1, None, True]},
        "missing": None,
        "deleted": True,
        "keys": ["window"],
        "big": "too_large",
        "other": "out_of_scope",
        "badKey": "invalid_args",
        "names": ["delete", "get", "keys", "set"],
        "clear": "not_allowed",
        "heard": changed,
    }
    # kept after the app has gone, where the docs say
    path = app_dirs("dev.ramparts.test")["APPDATA"] / ".store" / "settings.json"
    assert json.loads(path.read_text()) == {"window": {"w": 800, "h": [1, None, True]}}


WINDOWS = """
[tool.ramparts.capabilities.store]
allow = ["get", "set"]
stores = ["settings"]

[tool.ramparts.capabilities.window]
allow = ["open"]
labels = ["editor"]

[[tool.ramparts.windows]]
label = "main"
capabilities = ["store", "window"]

[[tool.ramparts.windows]]
label = "editor"
entry = "editor.html"
capabilities = ["store"]
"""
EDITOR_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>editor</title>
<script src="editor.js"></script></head><body></body></html>
"""
EDITOR_JS = """
ramparts.store.set({ store: "settings", key: "font", value: { size: 14 } });
"""


def test_a_change_in_one_window_is_heard_in_another(tmp_path: Path, ramparts_home: Path) -> None:
    app = write_app(
        tmp_path / "app",
        capabilities=WINDOWS,
        files={"editor.html": EDITOR_HTML, "editor.js": EDITOR_JS},
    )
    result = eval_in_app(
        app,
        """
        const heard = [];
        ramparts.events.on("store:changed", (p) => heard.push(p));
        await ramparts.window.open({ label: "editor" });   // its page sets "font" on load
        const deadline = Date.now() + 30000;
        while (!heard.length && Date.now() < deadline) await new Promise((f) => setTimeout(f, 20));
        return { heard, font: await ramparts.store.get({ store: "settings", key: "font" }) };
        """,
        timeout=60,
    )
    assert result == {
        "heard": [{"store": "settings", "key": "font", "action": "set"}],
        "font": {"size": 14},
    }
