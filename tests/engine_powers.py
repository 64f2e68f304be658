"""Helpers to try the web engine's own powers (media, clipboard, files...) in a real window.

The page cannot give itself a user gesture, and a drop comes from outside the page, so
the test app's commands do both the way Qt's input does: a real mouse click on the
view's input widget (``click``) and real drag and drop events carrying file URLs
(``drop``), on the GUI thread of the app's own process.
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

KEEP: list[Any] = []

@command
def engine_flags() -> str:
    return os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "")

def _view(ctx: CallContext) -> Any:
    """The widget that takes the view's input (Qt WebEngine's render widget)."""
    view = ctx.app.hosts[ctx.window].native.native.webview
    return view.focusProxy() or view

@command
def click(ctx: CallContext, x: int, y: int) -> None:
    from PyQt6.QtCore import QPoint, Qt
    from PyQt6.QtTest import QTest

    def press() -> None:
        QTest.mouseClick(
            _view(ctx), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x, y)
        )

    ctx.app.hosts[ctx.window].call_on_ui(press)

@command
def drop(ctx: CallContext, paths: list[str], x: int, y: int) -> None:
    import time
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

@command
def paste(ctx: CallContext, paths: list[str], text: str = "") -> None:
    """Put files (as a file manager copies them) or text on the clipboard; press Ctrl+V."""
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
