"""The ``dialog`` capability: native file and message dialogs.

A path the person picks is added to the calling session's fs scope (exactly that path;
a folder's tree only when the call asked for a folder), through the core's run-time
grants (``session.grants``). Nothing is granted when the window cannot use ``fs``.
Cancelling returns ``null``. Dialogs are Qt's, parented to the calling window, and
shown on the GUI thread; ``ramparts_dialog_answer`` (see :mod:`.hookspecs`) lets a
plugin answer them instead. A window has at most one dialog open at a time, across
reloads: dialog calls wait for a person, untimed, so a page stacking them could pin
every worker. A dialog is held by its page's session (``session.resources``): when the
page goes away it is closed as if cancelled, and the answer is dropped.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any, Literal, TypedDict

import ramparts
from ramparts import CallContext, Capability, CommandFailed, InvalidArgs, command
from ramparts.bridge.session import WindowSession
from ramparts.toolkit.scope import Grants

from . import hookspecs

__all__ = ["CANCEL", "FileFilter", "ramparts_capability"]

#: What a ``ramparts_dialog_answer`` hook returns for "the person cancelled".
CANCEL = object()
_EXT = re.compile(r"^(\*|[A-Za-z0-9_+-]{1,16})$")


class FileFilter(TypedDict):
    name: str
    extensions: list[str]


def _filters(filters: list[FileFilter]) -> list[str]:
    """``[{"name": "Images", "extensions": ["png"]}]`` -> ``["Images (*.png)"]``."""
    out = []
    for i, f in enumerate(filters):
        if any(c in f["name"] for c in "();\n"):
            raise InvalidArgs(f"filters[{i}].name: plain text without ( ) ; or newlines")
        if not f["extensions"] or not all(_EXT.match(e) for e in f["extensions"]):
            raise InvalidArgs(f"filters[{i}].extensions: names like 'png' or '*'")
        exts = " ".join("*" if e == "*" else "*." + e for e in f["extensions"])
        out.append(f"{f['name']} ({exts})")
    return out


#: Windows (their hosts; a session without one stands for itself) with a dialog call
#: under way. Per window, not per session: a reloaded page is a new session, and its
#: first page's dialog may still be closing.
_busy: weakref.WeakSet[Any] = weakref.WeakSet()
_busy_lock = threading.Lock()


@contextlib.contextmanager
def _one_at_a_time(ctx: CallContext) -> Iterator[None]:
    """Refuse a second dialog while this window has one open."""
    session = ctx.session
    window = session.host if session.host is not None else session
    with _busy_lock:
        if window in _busy:
            raise CommandFailed(
                "a dialog is already open in this window; wait for it to close",
                data={"reason": "busy"},
            )
        _busy.add(window)
    try:
        yield
    finally:
        with _busy_lock:
            _busy.discard(window)


def _exec(session: WindowSession, dialog: Any) -> Any:
    """Run ``dialog`` modally (GUI thread), rejected if the page's session ends first.

    Held by the session, so a dialog for a page that has gone is never shown
    (``SessionEnded``), and one still open when it goes is closed: the call returns
    and frees its worker.
    """
    held = session.resources.hold(functools.partial(_reject_later, dialog))
    try:
        return dialog.exec()
    finally:
        held.drop()


def _reject_later(dialog: Any) -> None:
    """Reject ``dialog`` on the GUI thread, from whichever thread ends the session."""
    from PyQt6.QtCore import QMetaObject, Qt

    QMetaObject.invokeMethod(dialog, "reject", Qt.ConnectionType.QueuedConnection)


def _ask_hooks(ctx: CallContext, kind: str, options: dict[str, Any]) -> Any:
    app = ctx.app
    if app is None:
        return None
    return app.pm.hook.ramparts_dialog_answer(window=ctx.window, kind=kind, options=options)


def _show(ctx: CallContext, build: Callable[[Any], Any]) -> Any:
    """Run ``build(parent_widget)`` on the GUI thread; the dialog is modal to the window."""
    host = ctx.session.host
    if host is None or host.native is None:
        raise ramparts.CommandFailed("this window cannot show dialogs")
    return host.call_on_ui(lambda: build(host.native.native))


def _can_use_fs(ctx: CallContext) -> bool:
    return any(r.capability == "fs" for r in ctx.session.registry.routes.values())


def _grant(ctx: CallContext, paths: list[str], *, recursive: bool) -> None:
    """Grant every picked path, or none of them.

    A name the scope could never match (not valid text: :func:`ramparts.toolkit.scope.os_bytes`)
    fails the call; the paths are first tried on a throwaway :class:`Grants`, so one bad
    name among several picks leaves the session's grants untouched.
    """
    if not _can_use_fs(ctx):
        return
    try:
        for p in paths:
            Grants().add_path(p, recursive=recursive)
    except InvalidArgs as e:
        raise CommandFailed(f"{e}; this app cannot use it", data={"reason": "not_text"}) from None
    for p in paths:
        ctx.session.grants.add_path(p, recursive=recursive)


def _file_dialog(
    ctx: CallContext, kind: Literal["open", "save"], options: dict[str, Any]
) -> list[str] | None:
    answer = _ask_hooks(ctx, kind, options)
    if answer is CANCEL:
        return None
    if answer is not None:
        paths = [answer] if isinstance(answer, str) else list(answer)
        return [str(p) for p in paths]

    def build(parent: Any) -> list[str] | None:
        from PyQt6.QtWidgets import QDialog, QFileDialog

        dlg = QFileDialog(parent, options.get("title") or "", options.get("default_path") or "")
        if kind == "save":
            dlg.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
            dlg.setFileMode(QFileDialog.FileMode.AnyFile)
            if options.get("default_name"):
                dlg.selectFile(options["default_name"])
        elif options.get("directory"):
            dlg.setFileMode(QFileDialog.FileMode.Directory)
            dlg.setOption(QFileDialog.Option.ShowDirsOnly, True)
        else:
            multiple = options.get("multiple")
            dlg.setFileMode(
                QFileDialog.FileMode.ExistingFiles
                if multiple
                else QFileDialog.FileMode.ExistingFile
            )
        if options.get("filters"):
            dlg.setNameFilters(options["filters"])
        if _exec(ctx.session, dlg) != QDialog.DialogCode.Accepted:
            return None
        return [str(p) for p in dlg.selectedFiles()] or None

    result: list[str] | None = _show(ctx, build)
    return result


@command(name="open", timeout=math.inf)
def open_(
    ctx: CallContext,
    multiple: bool = False,
    directory: bool = False,
    filters: list[FileFilter] | None = None,
    title: str | None = None,
    default_path: str | None = None,
) -> list[str] | str | None:
    """Pick file(s) or a folder. Returns a path (a list with ``multiple``), or ``null``.

    Each picked file is granted to this window's fs scope; a picked folder grants its
    whole tree (``directory: true`` only).
    """
    options = {
        "multiple": multiple,
        "directory": directory,
        "filters": _filters(filters or []),
        "title": title,
        "default_path": default_path,
    }
    with _one_at_a_time(ctx):
        paths = _file_dialog(ctx, "open", options)
    if not paths:
        return None
    if not multiple:
        paths = paths[:1]  # one pick asked for: one path granted (a hook may answer more)
    _grant(ctx, paths, recursive=directory)
    return paths if multiple else paths[0]


@command(timeout=math.inf)
def save(
    ctx: CallContext,
    default_name: str | None = None,
    filters: list[FileFilter] | None = None,
    title: str | None = None,
    default_path: str | None = None,
) -> str | None:
    """Pick where to save. Returns the path (granted to this window's fs scope) or ``null``."""
    options = {
        "default_name": default_name,
        "filters": _filters(filters or []),
        "title": title,
        "default_path": default_path,
    }
    with _one_at_a_time(ctx):
        paths = _file_dialog(ctx, "save", options)
    if not paths:
        return None
    _grant(ctx, paths[:1], recursive=False)
    return paths[0]


def _message_box(
    ctx: CallContext, kind: str, text: str, title: str | None, level: str, buttons: tuple[str, ...]
) -> str | None:
    """Show a message box; return the name of the button pressed (``None``: closed)."""
    with _one_at_a_time(ctx):
        return _show_message_box(ctx, kind, text, title, level, buttons)


def _show_message_box(
    ctx: CallContext, kind: str, text: str, title: str | None, level: str, buttons: tuple[str, ...]
) -> str | None:
    answer = _ask_hooks(ctx, kind, {"text": text, "title": title, "level": level})
    if answer is CANCEL or answer is False:
        return buttons[-1] if len(buttons) > 1 else None
    if answer is True:
        return buttons[0]
    if answer is not None:
        return str(answer)

    def build(parent: Any) -> str | None:
        from PyQt6.QtWidgets import QMessageBox

        B = QMessageBox.StandardButton
        icons = {
            "info": QMessageBox.Icon.Information,
            "warning": QMessageBox.Icon.Warning,
            "error": QMessageBox.Icon.Critical,
            "question": QMessageBox.Icon.Question,
        }
        standard = {"ok": B.Ok, "cancel": B.Cancel, "yes": B.Yes, "no": B.No}
        box = QMessageBox(icons[level], title or "", text, B.NoButton, parent)
        for name in buttons:
            box.addButton(standard[name])
        pressed = B(_exec(ctx.session, box))
        return next((n for n, b in standard.items() if b == pressed), None)

    result: str | None = _show(ctx, build)
    return result


def _text(text: str) -> str:
    if len(text) > 10_000:
        raise InvalidArgs("text: at most 10,000 characters")
    return text


@command(timeout=math.inf)
def message(
    ctx: CallContext,
    text: str,
    title: str | None = None,
    level: Literal["info", "warning", "error"] = "info",
) -> None:
    """Show a message with an OK button."""
    _message_box(ctx, "message", _text(text), title, level, ("ok",))


@command(timeout=math.inf)
def ask(ctx: CallContext, text: str, title: str | None = None) -> bool:
    """Ask a yes/no question. ``true`` for yes."""
    return _message_box(ctx, "ask", _text(text), title, "question", ("yes", "no")) == "yes"


@command(timeout=math.inf)
def confirm(ctx: CallContext, text: str, title: str | None = None) -> bool:
    """Ask for confirmation. ``true`` for OK, ``false`` for cancel."""
    return _message_box(ctx, "confirm", _text(text), title, "question", ("ok", "cancel")) == "ok"


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    return Capability(
        name="dialog",
        commands=[open_, save, message, ask, confirm],
        description="native file and message dialogs; picked paths join the fs scope",
        hookspecs=hookspecs,
    )
