"""Answers the dialog capability's dialogs in tests, from a JSON script.

``RAMPARTS_TEST_DIALOGS=FILE`` names ``{"mode": "drive" | "hook", "answers": [...]}``.
``drive`` finds each real Qt dialog on screen (offscreen) and operates it: selects the
paths, presses the button, or cancels. ``hook`` answers through
``ramparts_dialog_answer`` so no dialog is shown. Answers are consumed in order: a list
of paths, ``"cancel"``, or a button name (``yes``, ``no``, ``ok``, ``cancel``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import ramparts
from ramparts import Capability

_script: dict[str, Any] | None = None
_timer: Any = None
LOG: list[str] = []


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


@ramparts.hookimpl
def ramparts_session_started(session: Any) -> None:
    """Runs on the GUI thread: start watching for modal dialogs to operate."""
    global _timer
    if _load()["mode"] != "drive" or _timer is not None:
        return
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    _timer = QTimer(QApplication.instance())
    _timer.timeout.connect(_operate)
    _timer.start(30)


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    return Capability(name="autodialog", commands=[], description="test-only dialog answerer")
