"""Menus in real windows, on both engines: the app menu and the context menu are read
back from the toolkit itself; their items, chosen through the toolkit, raise the event
to Python and to the page whose ``menu_events`` name them, and to no other page; a
right click on the page offers only the editing entries and the declared items (no
navigation, reload, "view source", save, print or inspector) as a built app has it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from app_folders import REPORT_COMMANDS, write_app

from ramparts.testing import eval_in_app

pytestmark = [pytest.mark.webview, pytest.mark.usefixtures("engine")]

COMMANDS = (
    REPORT_COMMANDS
    + '''
import os
import threading

from ramparts import MenuEvent, on_menu

EVENTS: list[dict[str, Any]] = []
MENUS: list[list[Any]] = []


@on_menu
def record(app: Any, event: MenuEvent) -> None:
    EVENTS.append({**event.to_json(), "thread": threading.current_thread().name})


@command
def events() -> list[dict[str, Any]]:
    return EVENTS


@command
def flush(ctx: CallContext, label: str) -> None:
    """An event after any menu event already sent to ``label``'s page."""
    ctx.app.emit("flush", None, window=label)


def _gtk(ctx: CallContext, label: str) -> Any:
    from webview.platforms.gtk import BrowserView

    return BrowserView.instances[ctx.app.hosts[label].native.uid]


def _qt_bar(ctx: CallContext, label: str) -> Any:
    return ctx.app.hosts[label].native.native.menuBar()


def _gtk_items(widget: Any) -> list[Any]:
    from gi.repository import Gtk

    out = []
    for child in widget.get_children():
        if isinstance(child, Gtk.MenuBar):
            out += _gtk_items(child)
        elif isinstance(child, Gtk.MenuItem):
            out.append(child)
            if child.get_submenu() is not None:
                out += _gtk_items(child.get_submenu())
        elif isinstance(child, Gtk.Container):
            out += _gtk_items(child)
    return out


@command
def menu_bar(ctx: CallContext, label: str) -> list[list[Any]]:
    """Every entry of the window's menu bar, as the toolkit has it."""
    def qt() -> list[list[Any]]:
        def walk(menu: Any, depth: int) -> list[list[Any]]:
            out = []
            for a in menu.actions():
                out.append([depth, a.text(), a.isSeparator(), a.isEnabled(),
                            a.shortcut().toString()])
                if a.menu() is not None:
                    out += walk(a.menu(), depth + 1)
            return out
        return walk(_qt_bar(ctx, label), 0)

    def gtk() -> list[list[Any]]:
        from gi.repository import Gtk

        return [[0, i.get_label() or "", isinstance(i, Gtk.SeparatorMenuItem),
                 i.get_sensitive(), ""] for i in _gtk_items(_gtk(ctx, label).window)]

    return ctx.app.hosts[label].call_on_ui(qt if os.environ["RAMPARTS_BACKEND"] == "qt" else gtk)


@command
def choose(ctx: CallContext, label: str, item: str) -> bool:
    """Choose the app menu item ``item`` in window ``label`` through the toolkit."""
    def qt() -> bool:
        from PyQt6.QtGui import QAction

        for a in _qt_bar(ctx, label).findChildren(QAction):
            if a.data() == item:
                a.trigger()
                return True
        return False

    def gtk() -> bool:
        for i in _gtk_items(_gtk(ctx, label).window):
            if getattr(i, "ramparts_id", None) == item:
                i.activate()
                return True
        return False

    return ctx.app.hosts[label].call_on_ui(qt if os.environ["RAMPARTS_BACKEND"] == "qt" else gtk)


@command
def press(ctx: CallContext, label: str) -> None:
    """Ctrl+O in window ``label``, as the windowing system would deliver it."""
    def qt() -> None:
        from PyQt6.QtCore import Qt
        from PyQt6.QtTest import QTest

        widget = ctx.app.hosts[label].native.native.webview.focusProxy()
        QTest.keyClick(widget, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)

    def gtk() -> None:
        from gi.repository import Gdk, Gtk

        window = _gtk(ctx, label).window
        event = Gdk.Event.new(Gdk.EventType.KEY_PRESS)
        event.key.window = window.get_window()
        event.key.keyval = Gdk.KEY_o
        event.key.state = Gdk.ModifierType.CONTROL_MASK
        keymap = Gdk.Keymap.get_for_display(window.get_display())
        event.key.hardware_keycode = keymap.get_entries_for_keyval(Gdk.KEY_o)[1][0].keycode
        event.set_device(Gdk.Display.get_default().get_default_seat().get_keyboard())
        Gtk.main_do_event(event)

    ctx.app.hosts[label].call_on_ui(qt if os.environ["RAMPARTS_BACKEND"] == "qt" else gtk)


@command
def clip(ctx: CallContext, label: str, text: str, files: list[str]) -> None:
    """Put ``text`` and ``files`` (as a file manager copies them) on the clipboard."""
    def qt() -> None:
        from PyQt6.QtCore import QMimeData, QUrl
        from PyQt6.QtWidgets import QApplication

        data = QMimeData()
        data.setText(text)
        if files:
            data.setUrls([QUrl.fromLocalFile(f) for f in files])
        QApplication.clipboard().setMimeData(data)

    ctx.app.hosts[label].call_on_ui(qt)


@command
def right_click(ctx: CallContext, label: str, x: int, y: int) -> None:
    """A right click at (x, y) of the page, as the windowing system would send it."""
    def qt() -> None:
        from PyQt6.QtCore import QPointF, Qt
        from PyQt6.QtGui import QMouseEvent
        from PyQt6.QtWidgets import QApplication, QMenu

        for menu in QApplication.topLevelWidgets():  # an earlier click's, shown late
            if isinstance(menu, QMenu) and menu.isVisible():
                menu.close()
        widget = ctx.app.hosts[label].native.native.webview.focusProxy()
        at = QPointF(x, y)
        for kind in (QMouseEvent.Type.MouseButtonPress, QMouseEvent.Type.MouseButtonRelease):
            buttons = Qt.MouseButton.RightButton if kind == QMouseEvent.Type.MouseButtonPress \\
                else Qt.MouseButton.NoButton
            event = QMouseEvent(kind, at, widget.mapToGlobal(at), Qt.MouseButton.RightButton,
                                buttons, Qt.KeyboardModifier.NoModifier)
            QApplication.sendEvent(widget, event)

    def gtk() -> None:
        from gi.repository import Gdk

        MENUS.clear()
        view = _gtk(ctx, label).webview
        if not getattr(view, "ramparts_test_recorder", False):
            view.ramparts_test_recorder = True
            view.connect("context-menu", _record_gtk)  # after Ramparts' own handler
        pointer = Gdk.Display.get_default().get_default_seat().get_pointer()
        for kind in (Gdk.EventType.BUTTON_PRESS, Gdk.EventType.BUTTON_RELEASE):
            event = Gdk.Event.new(kind)
            event.button.window = view.get_window()
            event.button.button = 3
            event.button.x, event.button.y = float(x), float(y)
            event.set_device(pointer)
            view.event(event)

    ctx.app.hosts[label].call_on_ui(qt if os.environ["RAMPARTS_BACKEND"] == "qt" else gtk)


def _record_gtk(view: Any, menu: Any, event: Any, hit: Any) -> bool:
    entries = []
    for item in menu.get_items():
        if item.is_separator():
            entries.append(["-", None])
            continue
        action = item.get_gaction()
        name = action.get_name() if action is not None else ""
        stock = item.get_stock_action().value_nick
        entries.append([stock if not name.startswith("ramparts-menu-") else name, action])
    if hit.context_is_link():  # the engine would have offered its link entries
        entries.append(["engine:link", None])
    MENUS.append(entries)
    return True  # the test reads it: no popup


@command
def context_menu(ctx: CallContext, label: str, choose: str | None = None) -> list[str] | None:
    """The entries of the context menu the last right click opened (``None``: none yet),
    closing it; ``choose`` one of its items by id first."""
    def qt() -> list[str] | None:
        from PyQt6.QtWidgets import QApplication, QMenu

        menus = [w for w in QApplication.topLevelWidgets()
                 if isinstance(w, QMenu) and w.isVisible()]
        if not menus:
            return None
        entries = []
        for a in menus[0].actions():
            entries.append("-" if a.isSeparator() else f"{a.text()}:{a.data() or ''}")
            if choose is not None and choose in (a.data(), a.text()):
                a.trigger()
        menus[0].close()
        # What Qt WebEngine's own menu would have offered for the same click.
        standard = ctx.app.hosts[label].native.native.webview.createStandardContextMenu()
        entries += ["engine:" + a.text() for a in standard.actions() if a.text()]
        standard.deleteLater()
        return entries

    def gtk() -> list[str] | None:
        if not MENUS:
            return None
        entries = []
        for name, action in MENUS[-1]:
            entries.append(name)
            if choose is not None and name == f"ramparts-menu-{choose}":
                action.activate(None)
        return entries

    return ctx.app.hosts[label].call_on_ui(qt if os.environ["RAMPARTS_BACKEND"] == "qt" else gtk)
'''
)

CONFIG = """
[[tool.ramparts.menu]]
label = "File"
items = [
  { id = "file.open", label = "Open", accelerator = "ctrl+o" },
  { separator = true },
  { label = "Export", items = [{ id = "export.pdf", label = "PDF" }] },
  { id = "file.quit", label = "Quit", enabled = false },
]

[tool.ramparts.context_menu]
items = [{ id = "refresh", label = "Refresh" }]

[[tool.ramparts.windows]]
label = "main"
menu_events = ["file.open", "refresh"]

[[tool.ramparts.windows]]
label = "other"
entry = "other.html"
start = true
width = 600
height = 400
"""

OTHER_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="stylesheet" href="other.css">
<script src="other.js"></script></head>
<body><input id="field" value="some text"><p id="para">plain text</p>
<a id="link" href="other.html">a link</a></body></html>
"""
OTHER_CSS = """
body { margin: 0; }
#field { position: absolute; left: 10px; top: 10px; width: 300px; height: 30px; }
#para { position: absolute; left: 10px; top: 100px; margin: 0; }
#link { position: absolute; left: 10px; top: 200px; }
"""
#: The page not granted the menu events: reports what it heard once flushed.
OTHER_JS = """
const heard = [];
ramparts.events.on("ramparts:menu", (p) => heard.push(p));
ramparts.events.on("flush", () => ramparts.invoke("report", { value: { other: heard } }));
window.addEventListener("load", () => ramparts.invoke("report", { value: { loaded: true } }));
document.addEventListener("paste", (ev) => ramparts.invoke("report", { value: {
  pasted: ev.clipboardData.getData("text/plain"), files: ev.clipboardData.files.length,
} }));
"""

#: Page helpers: ``until(f)`` polls ``f`` until it is truthy or ``ms`` have passed.
UNTIL_JS = """
const until = async (f, ms = 30000) => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
};
const call = (name, args) => ramparts.invoke(name, args);
"""

SCRIPT = """
const got = [];
ramparts.events.on("ramparts:menu", (p) => got.push(p));
const out = {};
await until(async () => (await call("reports")).some((r) => r.loaded));
out.bar = await call("menu_bar", { label: "main" });

// Right clicks in the other window: the field, plain text, a link.
// A click the engine drops (its first frame not drawn yet, on a busy machine) is sent again.
const menu = async (x, y, choose) => until(async () => {
  await call("right_click", { label: "other", x, y });
  return until(async () => call("context_menu", { label: "other", choose }), 3000);
}, 60000);
out.field = await menu(50, 25, "refresh");
await call("press", { label: "other" });  // Ctrl+O while the field has the focus
out.para = await menu(20, 105);
out.link = await menu(20, 205);

out.chose = [
  await call("choose", { label: "main", item: "file.open" }),
  await call("choose", { label: "main", item: "export.pdf" }),
  await call("choose", { label: "main", item: "file.quit" }),
  await call("choose", { label: "other", item: "file.open" }),
];
out.python = await until(async () => {
  const e = await call("events");
  return e.length >= 5 ? e : null;
}) || await call("events");
await call("flush", { label: "other" });
out.other = (await until(async () => (await call("reports")).find((r) => r.other)))?.other;
out.page = got;
return out;
"""


@pytest.fixture(scope="module")
def menu_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_app(
        tmp_path_factory.mktemp("menus"),
        capabilities=textwrap.dedent(CONFIG),
        commands=COMMANDS,
        module="menu_cmds",
        files={"other.html": OTHER_HTML, "other.css": OTHER_CSS, "other.js": OTHER_JS},
    )


#: What no context menu entry may offer (in any engine's words).
FORBIDDEN = ("reload", "back", "forward", "inspect", "source", "save", "print", "open",
             "link", "download", "spell", "dictionar", "stop", "emoji", "unicode")  # fmt: skip


def test_menus(menu_app: Path, engine: str) -> None:
    out: dict[str, Any] = eval_in_app(menu_app, UNTIL_JS + SCRIPT, timeout=180)

    if engine == "qt":  # the menu bar as the toolkit has it
        assert out["bar"] == [
            [0, "File", False, True, ""],
            [1, "Open", False, True, "Ctrl+O"],
            [1, "", True, True, ""],
            [1, "Export", False, True, ""],
            [2, "PDF", False, True, ""],
            [1, "Quit", False, False, ""],
        ]
    else:
        assert [e[1:4] for e in out["bar"]] == [
            ["File", False, True], ["Open", False, True], ["", True, True],
            ["Export", False, True], ["PDF", False, True], ["Quit", False, False],
        ]  # fmt: skip

    # Context menus: editing entries on a field, the declared item everywhere, nothing else.
    ours = [[e for e in out[k] if not e.startswith("engine:")] for k in ("field", "para", "link")]
    refresh = "Refresh:refresh" if engine == "qt" else "ramparts-menu-refresh"
    editing = ["Cut:", "Copy:", "Paste:", "Select All:"] if engine == "qt" else [
        "cut", "copy", "paste", "delete", "select-all"]  # fmt: skip
    assert ours == [[*editing, "-", refresh], [refresh], [refresh]]
    for entry in (e for entries in ours for e in entries):
        assert not any(word in entry.lower() for word in FORBIDDEN), entry
    engine_link = [e for e in out["link"] if e.startswith("engine:")]
    assert engine_link  # the click was on a link: the engine had entries to offer there
    if engine == "qt":  # ... such as these, which Ramparts' menu leaves out
        assert any("link" in e.lower() for e in engine_link), engine_link

    # Items chosen: every enabled one reaches Python; the page hears only its grants.
    assert out["chose"] == [True, True, True, True]
    assert [(e["id"], e["window"], e["menu"]) for e in out["python"]] == [
        ("refresh", "other", "context"),
        ("file.open", "other", "app"),  # its accelerator
        ("file.open", "main", "app"),
        ("export.pdf", "main", "app"),
        ("file.open", "other", "app"),
    ]  # file.quit is disabled
    assert {e["thread"] for e in out["python"]} == {"ramparts-menu-events"}
    assert out["page"] == [{"id": "file.open", "window": "main", "menu": "app"}]
    assert out["other"] == []  # its window raised three items; it is granted none


DEVTOOLS_SCRIPT = """
await until(async () => (await ramparts.invoke("reports")).some((r) => r.loaded));
return until(async () => {
  await ramparts.invoke("right_click", { label: "other", x: 50, y: 25 });
  return until(async () => ramparts.invoke("context_menu", { label: "other" }), 3000);
}, 60000);
"""


def test_dev_devtools_adds_inspect(menu_app: Path, engine: str, tmp_path: Path) -> None:
    """``ramparts dev --devtools`` keeps the engine's inspector in the context menu
    (the in-process one, no port); without it (above) there is none."""
    script = tmp_path / "devtools.js"
    script.write_text(UNTIL_JS + DEVTOOLS_SCRIPT)
    args = ["dev", str(menu_app), "--headless", "--devtools", "--eval", str(script)]
    done = subprocess.run(
        [sys.executable, "-m", "ramparts", *args, "--timeout", "120", "--no-dev-server"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    entries = [e for e in json.loads(done.stdout.splitlines()[-1]) if not e.startswith("engine:")]
    inspect = "Inspect:" if engine == "qt" else "inspect-element"
    assert inspect in entries, entries
    assert not any(w in e.lower() for e in entries if e != inspect for w in FORBIDDEN), entries


PASTE_SCRIPT = """
await until(async () => (await call("reports")).some((r) => r.loaded));
const paste = async (text, files) => {
  await call("clip", { label: "other", text, files });
  return until(async () => {
    await call("right_click", { label: "other", x: 50, y: 25 });
    return until(async () => call("context_menu", { label: "other", choose: "Paste" }), 3000);
  }, 60000);
};
// The control: on a loaded machine the first paste can reach the page empty (the
// clipboard not settled yet), so paste again until the text arrives.
for (let i = 0; i < 3; i++) {
  await paste("plain", []);
  if (await until(async () => (await call("reports")).some((r) => r.pasted === "plain"), 3000)) break;
}
await paste("with a file", [FILE]);
await paste("after", []);  // pastes reach the page in order: this one comes last
await until(async () => (await call("reports")).some((r) => r.pasted === "after"));
return (await call("reports")).filter((r) => "pasted" in r);
"""


@pytest.mark.qt_only("a file pasted on WebKitGTK reaches the page as nothing anyway")
def test_the_context_menus_paste_keeps_files_from_an_ungranted_page(
    menu_app: Path, tmp_path: Path
) -> None:
    """The context menu's Paste is held to ``file-drop`` as Ctrl+V is: with a file on
    the clipboard it pastes nothing into a window not granted it."""
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    script = UNTIL_JS + PASTE_SCRIPT.replace("FILE", json.dumps(str(secret)))
    pasted = eval_in_app(menu_app, script, timeout=180)
    texts = [r["pasted"] for r in pasted]
    assert "plain" in texts and all(r["files"] == 0 for r in pasted), pasted
    first = texts.index("plain")
    assert set(texts[:first]) <= {""}, pasted  # the control's empty tries, if any
    # With a file on the clipboard, Paste delivered nothing: no event, no text.
    assert texts[first:] == ["plain", "after"], pasted
