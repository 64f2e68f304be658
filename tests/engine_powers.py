"""Helpers to try the web engine's own powers (media, clipboard, files...) in a real window.

The page cannot give itself a user gesture, and a drop comes from outside the page, so
the test app's commands do both the way the engine's toolkit does, on the GUI thread of
the app's own process: on Qt, a real mouse click on the view's input widget (``click``)
and real drag and drop events carrying file URLs (``drop``); on GTK, GDK button and key
events on the WebKitWebView and a real X drag (XTest's pointer) from a window that
offers the files. File choosers are answered in the toolkit's own dialog (on GTK,
Ramparts' chooser for WebKit's ``run-file-chooser``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from conftest import REPORT_COMMANDS, write_app

from ramparts.testing import eval_in_app

#: Chromium's fake capture devices: headless there is no microphone or camera. It picks
#: the devices, never answers a permission (that is ``--use-fake-ui-for-media-stream``,
#: which Ramparts strips and which is added here to show that it stays stripped).
ENV = {
    "QTWEBENGINE_CHROMIUM_FLAGS": "--use-fake-device-for-media-stream "
    "--use-fake-ui-for-media-stream"
}

COMMANDS = (
    REPORT_COMMANDS
    + '''
import os
import threading
import time

KEEP: list[Any] = []

@command
def engine_flags() -> str:
    return os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "")

def _gtk(ctx: CallContext) -> bool:
    return ctx.app._backend.name == "gtk"

def _view(ctx: CallContext) -> Any:
    """The widget that takes the view's input: Qt WebEngine's render widget, or the
    WebKitWebView."""
    native = ctx.app.hosts[ctx.window].native
    if _gtk(ctx):
        from webview.platforms.gtk import BrowserView

        return BrowserView.instances[native.uid].webview
    view = native.native.webview
    return view.focusProxy() or view

def _gdk() -> Any:
    import gi

    gi.require_version("Gdk", "3.0")
    gi.require_version("Gtk", "3.0")
    from gi.repository import Gdk

    return Gdk

def _gdk_key(view: Any, kind: Any, keyval: int, control: bool) -> Any:
    """A key event for the view's window, as the keyboard would send it."""
    Gdk = _gdk()
    ev = Gdk.Event.new(kind)
    ev.key.window = view.get_toplevel().get_window()
    ev.key.send_event = True
    ev.key.time = Gdk.CURRENT_TIME
    ev.key.keyval = keyval
    ev.key.state = Gdk.ModifierType.CONTROL_MASK if control else Gdk.ModifierType(0)
    keys = Gdk.Keymap.get_for_display(Gdk.Display.get_default()).get_entries_for_keyval(keyval)
    ev.key.hardware_keycode = keys[1][0].keycode
    ev.set_device(Gdk.Display.get_default().get_default_seat().get_keyboard())
    return ev

@command
def click(ctx: CallContext, x: int, y: int) -> None:
    view = _view(ctx)
    if _gtk(ctx):
        Gdk = _gdk()

        def button(kind: Any) -> Any:
            ev = Gdk.Event.new(kind)
            ev.button.window = view.get_window()
            ev.button.send_event = True
            ev.button.time = Gdk.CURRENT_TIME
            ev.button.x, ev.button.y, ev.button.button = float(x), float(y), 1
            ev.set_device(Gdk.Display.get_default().get_default_seat().get_pointer())
            return ev

        def press() -> None:
            view.event(button(Gdk.EventType.BUTTON_PRESS))
            view.event(button(Gdk.EventType.BUTTON_RELEASE))
    else:
        from PyQt6.QtCore import QPoint, Qt
        from PyQt6.QtTest import QTest

        def press() -> None:
            QTest.mouseClick(
                view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x, y)
            )

    ctx.app.hosts[ctx.window].call_on_ui(press)

def _drop_gtk(ctx: CallContext, paths: list[str], x: int, y: int) -> None:
    """A real X drag and drop: a window of this process offers the files (GTK answers
    the engine's request for them), the X pointer carries the drag onto the view, and
    the drag drops there."""
    Gdk = _gdk()
    from gi.repository import GLib, GObject, Gtk

    host = ctx.app.hosts[ctx.window]
    view = _view(ctx)
    uris = [GLib.filename_to_uri(p, None) for p in paths]
    # Each step waits for GTK to have told the view, not for a time: the view hears a
    # position (an emission hook runs even when Ramparts' own handler refuses the drag),
    # and the source hears the end of the drag before its window goes.
    moved, ended = threading.Event(), threading.Event()

    def heard(*_: Any) -> bool:
        moved.set()
        return True  # keep the hook

    def begin() -> Any:
        win = Gtk.Window(type=Gtk.WindowType.POPUP)
        win.set_default_size(60, 60)
        win.move(1200, 940)  # clear of the app's window on the test's 1280x1024 screen
        box = Gtk.EventBox()
        win.add(box)
        targets = Gtk.TargetList.new([Gtk.TargetEntry.new("text/uri-list", 0, 0)])
        box.connect("drag-data-get", lambda _w, _c, data, _i, _t: data.set_uris(uris))
        box.connect("drag-end", lambda *_: ended.set())
        win.show_all()
        KEEP.append(win)
        drag = box.drag_begin_with_coordinates(targets, Gdk.DragAction.COPY, 1, None, 30, 30)
        return win, drag

    win, drag = host.call_on_ui(begin)
    hook = host.call_on_ui(lambda: GObject.add_emission_hook(view, "drag-motion", heard))
    pointer = host.call_on_ui(lambda: Gdk.Display.get_default().get_default_seat().get_pointer())
    _ok, ox, oy = host.call_on_ui(lambda: view.get_window().get_origin())
    try:
        for step in (6, 3, 0):  # onto the view, moving, so the target hears each position
            moved.clear()
            host.call_on_ui(lambda: pointer.warp(win.get_screen(), ox + x + step, oy + y + step))
            moved.wait(10)  # a position the view never hears: the page's retry drags again
        host.call_on_ui(lambda: Gdk.drag_drop(drag, Gdk.CURRENT_TIME))
        ended.wait(10)
    finally:
        host.call_on_ui(lambda: GObject.remove_emission_hook(view, "drag-motion", hook))
        host.call_on_ui(win.destroy)

@command
def drop(ctx: CallContext, paths: list[str], x: int, y: int) -> None:
    if _gtk(ctx):
        _drop_gtk(ctx, paths, x, y)
        return
    from PyQt6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PyQt6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
    from PyQt6.QtWidgets import QApplication

    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(p) for p in paths])
    KEEP.append(data)  # the engine may read it after the events return
    args = (Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier)
    host = ctx.app.hosts[ctx.window]
    view = host.native.native.webview
    # As a drag arrives: it enters, moves, and drops once the page has said it takes it.
    host.call_on_ui(lambda: QApplication.sendEvent(view, QDragEnterEvent(QPoint(x, y), *args)))
    time.sleep(0.3)
    host.call_on_ui(lambda: QApplication.sendEvent(view, QDragMoveEvent(QPoint(x, y), *args)))
    time.sleep(0.3)
    host.call_on_ui(lambda: QApplication.sendEvent(view, QDropEvent(QPointF(x, y), *args)))

def _paste_gtk(ctx: CallContext, paths: list[str], text: str) -> None:
    Gdk = _gdk()
    from gi.repository import GLib, Gtk

    view = _view(ctx)
    uris = [GLib.filename_to_uri(p, None) for p in paths]

    def run() -> None:
        if paths:  # owned as a file manager owns it: a list of URIs
            owner = Gtk.Invisible()
            KEEP.append(owner)
            owner.connect("selection-get", lambda _w, data, _i, _t: data.set_uris(uris))
            uri_list = Gdk.Atom.intern("text/uri-list", False)
            Gtk.selection_add_target(owner, Gdk.SELECTION_CLIPBOARD, uri_list, 0)
            Gtk.selection_owner_set(owner, Gdk.SELECTION_CLIPBOARD, Gdk.CURRENT_TIME)
        else:
            Gtk.Clipboard.get(Gdk.SELECTION_CLIPBOARD).set_text(text, -1)
        view.grab_focus()
        top = view.get_toplevel()
        top.event(_gdk_key(view, Gdk.EventType.KEY_PRESS, Gdk.KEY_v, True))
        top.event(_gdk_key(view, Gdk.EventType.KEY_RELEASE, Gdk.KEY_v, True))

    ctx.app.hosts[ctx.window].call_on_ui(run)

@command
def paste(ctx: CallContext, paths: list[str], text: str = "") -> None:
    """Put files (as a file manager copies them) or text on the clipboard; press Ctrl+V."""
    if _gtk(ctx):
        _paste_gtk(ctx, paths, text)
        return
    from PyQt6.QtCore import QMimeData, Qt, QUrl
    from PyQt6.QtTest import QTest
    from PyQt6.QtWidgets import QApplication

    def run() -> None:
        data = QMimeData()
        if paths:
            data.setUrls([QUrl.fromLocalFile(p) for p in paths])
        else:
            data.setText(text)
        QApplication.clipboard().setMimeData(data)
        QTest.keyClick(_view(ctx), Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)

    ctx.app.hosts[ctx.window].call_on_ui(run)

CHOOSERS: list[Any] = []
SEEN: list[Any] = []

def _operate_gtk(answers: list[list[str]]) -> bool:
    """Ramparts' GTK chooser (``run-file-chooser``): answered as a person would."""
    from gi.repository import Gtk

    for w in Gtk.Window.list_toplevels():
        if not isinstance(w, Gtk.FileChooserDialog) or not w.get_visible():
            continue
        if not any(w is s for s, _ in SEEN):
            SEEN.append((w, answers.pop(0) if answers else []))
            folder = w.get_action() == Gtk.FileChooserAction.SELECT_FOLDER
            CHOOSERS.append({"folder": folder, "answer": SEEN[-1][1]})
        paths = next(p for s, p in SEEN if s is w)
        if not paths:
            w.response(Gtk.ResponseType.CANCEL)
            continue
        w.select_filename(paths[0])
        # The chooser takes an answer once its folder has loaded the file: next tick.
        if w.get_filename() == paths[0]:
            w.response(Gtk.ResponseType.ACCEPT)
    return True

def _operate(answers: list[list[str]]) -> None:
    from PyQt6.QtWidgets import QApplication, QDialogButtonBox, QFileDialog, QLineEdit

    dialog = QApplication.activeModalWidget()
    if not isinstance(dialog, QFileDialog) or not dialog.isVisible() or dialog.property("seen"):
        return
    dialog.setProperty("seen", True)
    paths = answers.pop(0) if answers else []
    CHOOSERS.append({"folder": dialog.fileMode() == QFileDialog.FileMode.Directory,
                     "answer": paths})
    if not paths:
        dialog.reject()
        return
    dialog.setDirectory(paths[0] if os.path.isdir(paths[0]) else os.path.dirname(paths[0]))
    if not os.path.isdir(paths[0]):
        dialog.findChild(QLineEdit, "fileNameEdit").setText(os.path.basename(paths[0]))
    box = dialog.findChild(QDialogButtonBox)
    # The engine's chooser is made in C++: its accept() is out of Python's reach, its
    # button is not (and pressing it is what a person does).
    next(b for b in box.buttons()
         if box.buttonRole(b) == QDialogButtonBox.ButtonRole.AcceptRole).click()

@command
def answer_choosers(ctx: CallContext, answers: list[list[str]]) -> None:
    """Operate the file choosers the engine opens from now on: pick each answer's paths
    (a folder's path for a folder chooser; an empty answer cancels)."""
    if _gtk(ctx):
        from gi.repository import GLib

        ctx.app.hosts[ctx.window].call_on_ui(
            lambda: GLib.timeout_add(50, _operate_gtk, answers)
        )
        return
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    def start() -> None:
        timer = QTimer(QApplication.instance())
        timer.timeout.connect(lambda: _operate(answers))
        timer.start(50)
        KEEP.append(timer)

    ctx.app.hosts[ctx.window].call_on_ui(start)

@command
def choosers() -> list[Any]:
    return CHOOSERS
'''
)


#: Page helpers: ``attempt`` settles as ["ok", value], ["err", "Name: message"] or
#: ["pending"] (nobody answered within 4 s); ``clicked(fn)`` runs ``fn`` inside a real
#: click's handler (user activation); ``dropped(paths)`` drops files on the page and
#: gives the names its own drop handler saw; ``pasted(paths, text)`` pastes files or text
#: with Ctrl+V into a textarea; ``picked(attrs)`` clicks an <input type=file>.
PRELUDE = r"""
const attempt = (fn, ms = 4000) => Promise.race([
  Promise.resolve().then(fn).then((v) => ["ok", v], (e) => ["err", `${e && e.name}: ${e && e.message}`]),
  new Promise((r) => setTimeout(() => r(["pending"]), ms)),
]);
const tracks = (s) => s.getTracks().map((t) => `${t.kind}:${t.readyState}`);
const media = (constraints) => async () => tracks(await navigator.mediaDevices.getUserMedia(constraints));
const target = () => {
  const b = document.createElement("button");
  b.textContent = "target";
  Object.assign(b.style, { position: "fixed", left: "0", top: "0", width: "200px", height: "120px" });
  document.body.appendChild(b);
  return b;
};
const clicked = async (fn, tries = 3) => {
  const b = target();
  const done = new Promise((r) => b.addEventListener("click", () => r(attempt(fn)), { once: true }));
  await ramparts.invoke("click", { x: 20, y: 20 });
  const out = await Promise.race([done, new Promise((r) => setTimeout(() => r(["no click"]), 4000))]);
  b.remove();
  // On a loaded machine the click's activation can lapse before the handler asks: that
  // is the test's own gesture failing, not the engine refusing, so click again.
  const lapsed = out[0] === "err" && /user (gesture|activation)/i.test(out[1]);
  return lapsed && tries > 1 ? clicked(fn, tries - 1) : out;
};
// Waits until ``done()`` or the deadline: a refusal can only be seen as an absence, and
// on a loaded machine a delivery can come late, so the wait ends early on success.
const waitFor = async (done, ms) => {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
};
// The drag's events reach the engine one by one; if the page had not yet taken the drag
// when the drop came (a loaded machine), nothing arrives: drag again, up to ``tries``.
const dropped = async (paths, tries = 3) => {
  const b = target();
  const seen = [];
  b.addEventListener("dragover", (e) => e.preventDefault());
  b.addEventListener("drop", (e) => {
    e.preventDefault();
    for (const f of e.dataTransfer.files) seen.push(f.name);
  });
  for (let i = 0; i < tries && !seen.length; i++) {
    await ramparts.invoke("drop", { paths, x: 20, y: 20 });
    await waitFor(() => seen.length, 3000);
  }
  b.remove();
  return seen;
};
const pasted = async (paths, text = "") => {
  const area = document.createElement("textarea");
  document.body.appendChild(area);
  area.focus();
  const seen = [];
  let pastes = 0;
  const onPaste = (e) => { pastes++; for (const f of e.clipboardData.files) seen.push(f.name); };
  document.addEventListener("paste", onPaste);
  await ramparts.invoke("paste", { paths, text });
  // A paste of text always fires the event; a refused file paste fires none.
  await waitFor(() => pastes > 0 && (area.value || seen.length || !text), 3000);
  document.removeEventListener("paste", onPaste);
  area.remove();
  return { files: seen, text: area.value };
};
const picked = async (attrs) => {
  const input = document.createElement("input");
  input.type = "file";
  for (const a of attrs) input.setAttribute(a, "");
  Object.assign(input.style, { position: "fixed", left: "0", top: "0", width: "200px", height: "120px" });
  document.body.appendChild(input);
  const changed = new Promise((r) => input.addEventListener("change", () => r(true), { once: true }));
  await ramparts.invoke("click", { x: 20, y: 20 });
  await Promise.race([changed, new Promise((r) => setTimeout(r, 5000))]);
  const names = [...input.files].map((f) => f.webkitRelativePath || f.name);
  input.remove();
  await new Promise((r) => setTimeout(r, 500));  // the engine's chooser winds down
  return names;
};
"""


def write_powers_app(root: Path, windows: str, files: dict[str, str] | None = None) -> Path:
    """An app whose windows are ``windows`` (``[[tool.ramparts.windows]]`` TOML); its
    ``window`` capability may open the one labelled ``second``."""
    caps = textwrap.dedent(
        """
        [tool.ramparts.capabilities.window]
        allow = ["open"]
        labels = ["second"]
        """
    )
    return write_app(
        root, capabilities=caps + windows, commands=COMMANDS, module="powers_cmds", files=files
    )


def run_page(app: Path, body: str, timeout: float = 60.0) -> Any:
    """Run ``body`` (after :data:`PRELUDE`) in the app's main window; return its value."""
    return eval_in_app(app, PRELUDE + body, timeout=timeout, env=ENV)
