"""Answers the dialog capability's dialogs in tests, from a JSON script.

``RAMPARTS_TEST_DIALOGS=FILE`` names ``{"mode": "drive" | "hook", "answers": [...]}``.
``drive`` finds each real dialog on screen (Qt's offscreen, or GTK's under Xvfb, by
``RAMPARTS_BACKEND``) and operates it: selects the paths, presses the button, or
cancels. ``hook`` answers through
``ramparts_dialog_answer`` so no dialog is shown. Answers are consumed in order: a list
of paths, ``"cancel"``, or a button name (``yes``, ``no``, ``ok``, ``cancel``).
"""

from __future__ import annotations

import json
import os
import weakref
from pathlib import Path
from typing import Any

import ramparts
from ramparts import Capability

_script: dict[str, Any] | None = None
_timer: Any = None
LOG: list[str] = []
#: GTK: each dialog's answer, taken once and kept until the dialog takes it.
_gtk_answers: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _load() -> dict[str, Any]:
    global _script
    if _script is None:
        path = os.environ.get("RAMPARTS_TEST_DIALOGS")
        _script = json.loads(Path(path).read_text()) if path else {"mode": "none", "answers": []}
    return _script


def _next() -> Any:
    answers = _load()["answers"]
    return answers.pop(0) if answers else "cancel"


@ramparts.hookimpl
def ramparts_dialog_answer(window: str, kind: str, options: dict[str, Any]) -> Any:
    if _load()["mode"] != "hook":
        return None
    from ramparts_dialog import CANCEL

    answer = _next()
    if answer == "cancel":
        return CANCEL
    if answer in ("yes", "ok"):
        return True
    if answer == "no":
        return False
    return answer


def _operate() -> None:
    from PyQt6.QtWidgets import QApplication, QFileDialog, QLineEdit, QMessageBox

    widget = QApplication.activeModalWidget()
    if widget is None or not widget.isVisible():
        return
    # One answer per dialog, kept on the dialog itself (ids of deleted dialogs get reused),
    # and retried on later ticks until the dialog takes it.
    stored = widget.property("autodialog_answer")
    if stored is None:
        stored = json.dumps(_next())
        widget.setProperty("autodialog_answer", stored)
    answer = json.loads(stored)
    if isinstance(widget, QFileDialog):
        if answer == "cancel":
            widget.reject()
            return
        paths = [Path(p) for p in answer]
        if widget.fileMode() == QFileDialog.FileMode.Directory:
            widget.setDirectory(str(paths[0]))  # the folder itself is the selection
        else:
            widget.setDirectory(str(paths[0].parent))
            # Typed into the name field, as a person would (quoted names for several).
            edit = widget.findChild(QLineEdit, "fileNameEdit")
            names = paths[0].name if len(paths) == 1 else " ".join(f'"{p.name}"' for p in paths)
            edit.setText(names)
        LOG.append(f"file dialog: {answer}")
        widget.accept()  # if the dialog is not ready yet, the next tick tries again
    elif isinstance(widget, QMessageBox):
        B = QMessageBox.StandardButton
        button = widget.button({"yes": B.Yes, "no": B.No, "ok": B.Ok, "cancel": B.Cancel}[answer])
        if button is None:
            raise AssertionError(f"the dialog has no {answer!r} button: the script is out of step")
        LOG.append(f"message box: {answer}")
        button.click()


def _operate_gtk() -> bool:
    """GTK's counterpart of ``_operate``: the native dialogs of ramparts.backends.gtk_dialogs."""
    from gi.repository import Gtk

    for widget in Gtk.Window.list_toplevels():
        if isinstance(widget, Gtk.Dialog) and widget.get_visible() and widget.get_modal():
            if widget not in _gtk_answers:
                _gtk_answers[widget] = _next()
            _answer_gtk(widget, _gtk_answers[widget])
    return True  # keep watching


def _answer_gtk(widget: Any, answer: Any) -> None:
    from gi.repository import Gtk

    R = Gtk.ResponseType
    if isinstance(widget, Gtk.FileChooserDialog):
        if answer == "cancel":
            widget.response(R.CANCEL)
            return
        if widget.get_action() == Gtk.FileChooserAction.SAVE:
            widget.set_current_folder(str(Path(answer[0]).parent))
            widget.set_current_name(Path(answer[0]).name)
        elif len(answer) > 1:
            _select_several(widget, answer)
        else:
            widget.select_filename(answer[0])
        # The chooser takes the answer once its folder has loaded the files: until
        # then, the next tick tries again.
        if sorted(widget.get_filenames()) != sorted(answer):
            return
        LOG.append(f"file dialog: {answer}")
        widget.response(R.ACCEPT)
    elif isinstance(widget, Gtk.MessageDialog):
        response = {"yes": R.YES, "no": R.NO, "ok": R.OK, "cancel": R.CANCEL}[answer]
        if widget.get_widget_for_response(response) is None:
            raise AssertionError(f"the dialog has no {answer!r} button: the script is out of step")
        LOG.append(f"message box: {answer}")
        widget.response(response)


def _select_several(widget: Any, paths: list[str]) -> None:
    """Select ``paths`` (one folder's files) in the chooser's list, as Ctrl+click would:
    ``select_filename`` replaces the selection rather than adding to it."""
    from gi.repository import Gio, Gtk

    folder = str(Path(paths[0]).parent)
    if widget.get_current_folder() != folder:
        widget.set_current_folder(folder)
        return  # its files are listed on a later tick
    lists = [widget]
    while lists and not isinstance(lists[0], Gtk.TreeView):
        box = lists.pop(0)
        lists += box.get_children() if isinstance(box, Gtk.Container) else []
    if not lists:
        return
    view = lists[0]
    model, selection = view.get_model(), view.get_selection()
    for row in model:
        files = [v for v in row if isinstance(v, Gio.File)]
        if files and files[0].get_path() in paths:
            selection.select_iter(row.iter)
        else:  # the chooser selects its first row when it lists a folder
            selection.unselect_iter(row.iter)


@ramparts.hookimpl
def ramparts_session_started(session: Any) -> None:
    """Runs on the GUI thread: start watching for modal dialogs to operate."""
    global _timer
    if _load()["mode"] != "drive" or _timer is not None:
        return
    if os.environ.get("RAMPARTS_BACKEND") == "gtk":
        from gi.repository import GLib

        _timer = GLib.timeout_add(30, _operate_gtk)
        return
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    _timer = QTimer(QApplication.instance())
    _timer.timeout.connect(_operate)
    _timer.start(30)


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    return Capability(name="autodialog", commands=[], description="test-only dialog answerer")
