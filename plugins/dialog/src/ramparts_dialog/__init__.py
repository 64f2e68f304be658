"""The ``dialog`` capability: native file and message dialogs.

A path the person picks is added to the calling session's fs scope (exactly that path;
a folder's tree only when the call asked for a folder), through the core's run-time
grants (``session.grants``). Nothing is granted when the window cannot use ``fs``.
Cancelling returns ``null``. Dialogs are the webview backend's (``ctx.native_dialogs()``),
modal to the calling window and shown on the GUI thread; ``ramparts_dialog_answer``
(see :mod:`.hookspecs`) lets a plugin answer them instead. A window has at most one
dialog open at a time, across reloads: dialog calls wait for a person, untimed, so a
page stacking them could pin every worker. A dialog is held by its page's session
(``session.resources``): when the page goes away it is closed as if cancelled, and the
answer is dropped.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
import weakref
from collections.abc import Iterator
from typing import Any, Literal, TypedDict

import ramparts
from ramparts import CallContext, Capability, CommandFailed, InvalidArgs, command
from ramparts.toolkit import Grants

from . import hookspecs

__all__ = ["CANCEL", "FileFilter", "ramparts_capability"]

#: What a ``ramparts_dialog_answer`` hook returns for "the person cancelled".
CANCEL = object()
_EXT = re.compile(r"^(\*|[A-Za-z0-9_+-]{1,16})$")
#: What a file dialog picks, and the buttons a message box shows (``ctx.native_dialogs()``).
_Mode = Literal["open", "open-multiple", "folder", "save"]
_Button = Literal["ok", "cancel", "yes", "no"]
_CANNOT = "this window cannot show dialogs"


class FileFilter(TypedDict):
    name: str
    extensions: list[str]


def _filters(filters: list[FileFilter]) -> list[tuple[str, list[str]]]:
    """The filters checked, as ``(name, extensions)`` pairs."""
    for i, f in enumerate(filters):
        if any(c in f["name"] for c in "();\n"):
            raise InvalidArgs(f"filters[{i}].name: plain text without ( ) ; or newlines")
        if not f["extensions"] or not all(_EXT.match(e) for e in f["extensions"]):
            raise InvalidArgs(f"filters[{i}].extensions: names like 'png' or '*'")
    return [(f["name"], f["extensions"]) for f in filters]


def _label(name: str, extensions: list[str]) -> str:
    """``("Images", ["png"])`` -> ``"Images (*.png)"``: a filter as the
    ``ramparts_dialog_answer`` hooks are given it."""
    return f"{name} ({' '.join('*' if e == '*' else '*.' + e for e in extensions)})"


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


def _ask_hooks(ctx: CallContext, kind: str, options: dict[str, Any]) -> Any:
    return ctx.app.pm.hook.ramparts_dialog_answer(window=ctx.window, kind=kind, options=options)


def _grant(ctx: CallContext, paths: list[str], *, recursive: bool) -> None:
    """Grant every picked path, or none of them.

    A name the scope could never match (not valid text: :func:`ramparts.toolkit.scope.os_bytes`)
    fails the call; the paths are first tried on a throwaway :class:`Grants`, so one bad
    name among several picks leaves the session's grants untouched.
    """
    if not ctx.can_call("fs"):
        return
    try:
        for p in paths:
            Grants().add_path(p, recursive=recursive)
    except InvalidArgs as e:
        raise CommandFailed(f"{e}; this app cannot use it", data={"reason": "not_text"}) from None
    for p in paths:
        ctx.grants.add_path(p, recursive=recursive)


def _file_dialog(
    ctx: CallContext,
    kind: Literal["open", "save"],
    options: dict[str, Any],
    filters: list[tuple[str, list[str]]],
) -> list[str] | None:
    answer = _ask_hooks(ctx, kind, options)
    if answer is CANCEL:
        return None
    if answer is not None:
        paths = [answer] if isinstance(answer, str) else list(answer)
        return [str(p) for p in paths]
    mode: _Mode = "save" if kind == "save" else "open"
    if kind == "open" and options["directory"]:
        mode = "folder"
    elif kind == "open" and options["multiple"]:
        mode = "open-multiple"
    dialogs = ctx.native_dialogs()
    if dialogs is None:
        raise CommandFailed(_CANNOT)
    return dialogs.pick(
        mode,
        title=options["title"] or "",
        default_path=options["default_path"] or "",
        default_name=options.get("default_name") or "",
        filters=filters,
    )


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
    checked = _filters(filters or [])
    options = {
        "multiple": multiple,
        "directory": directory,
        "filters": [_label(*f) for f in checked],
        "title": title,
        "default_path": default_path,
    }
    with _one_at_a_time(ctx):
        paths = _file_dialog(ctx, "open", options, checked)
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
    checked = _filters(filters or [])
    options = {
        "default_name": default_name,
        "filters": [_label(*f) for f in checked],
        "title": title,
        "default_path": default_path,
    }
    with _one_at_a_time(ctx):
        paths = _file_dialog(ctx, "save", options, checked)
    if not paths:
        return None
    _grant(ctx, paths[:1], recursive=False)
    return paths[0]


def _message_box(
    ctx: CallContext,
    kind: str,
    text: str,
    title: str | None,
    level: str,
    buttons: tuple[_Button, ...],
) -> str | None:
    """Show a message box; return the name of the button pressed (``None``: closed)."""
    with _one_at_a_time(ctx):
        return _show_message_box(ctx, kind, text, title, level, buttons)


def _show_message_box(
    ctx: CallContext,
    kind: str,
    text: str,
    title: str | None,
    level: str,
    buttons: tuple[_Button, ...],
) -> str | None:
    answer = _ask_hooks(ctx, kind, {"text": text, "title": title, "level": level})
    if answer is CANCEL or answer is False:
        return buttons[-1] if len(buttons) > 1 else None
    if answer is True:
        return buttons[0]
    if answer is not None:
        return str(answer)
    dialogs = ctx.native_dialogs()
    if dialogs is None:
        raise CommandFailed(_CANNOT)
    return dialogs.message(level, text, title=title or "", buttons=buttons)


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
