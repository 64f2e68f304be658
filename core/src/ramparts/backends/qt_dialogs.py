"""Native dialogs on Qt: file pickers and message boxes, modal to the calling window."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from PyQt6.QtCore import QMetaObject, Qt
from PyQt6.QtWidgets import QDialog, QFileDialog, QMessageBox, QWidget

from ramparts.backends import Button, PickMode
from ramparts.bridge.host import WindowHost
from ramparts.bridge.session import WindowSession

__all__ = ["QtDialogs"]

_B = QMessageBox.StandardButton
_ICONS = {
    "info": QMessageBox.Icon.Information,
    "warning": QMessageBox.Icon.Warning,
    "error": QMessageBox.Icon.Critical,
    "question": QMessageBox.Icon.Question,
}
_BUTTONS: dict[Button, QMessageBox.StandardButton] = {
    "ok": _B.Ok,
    "cancel": _B.Cancel,
    "yes": _B.Yes,
    "no": _B.No,
}


class QtDialogs:
    """:class:`ramparts.backends.NativeDialogs` for one window's page session."""

    def __init__(self, host: WindowHost, session: WindowSession) -> None:
        self._host = host
        self._session = session

    def pick(
        self,
        mode: PickMode,
        *,
        title: str = "",
        default_path: str = "",
        default_name: str = "",
        filters: Sequence[tuple[str, Sequence[str]]] = (),
    ) -> list[str] | None:
        def build(parent: QWidget) -> list[str] | None:
            dlg = QFileDialog(parent, title, default_path)
            if mode == "save":
                dlg.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
                dlg.setFileMode(QFileDialog.FileMode.AnyFile)
                if default_name:
                    dlg.selectFile(default_name)
            elif mode == "folder":
                dlg.setFileMode(QFileDialog.FileMode.Directory)
                dlg.setOption(QFileDialog.Option.ShowDirsOnly, True)
            elif mode == "open-multiple":
                dlg.setFileMode(QFileDialog.FileMode.ExistingFiles)
            else:
                dlg.setFileMode(QFileDialog.FileMode.ExistingFile)
            if filters:
                dlg.setNameFilters([_name_filter(name, exts) for name, exts in filters])
            if self._exec(dlg) != QDialog.DialogCode.Accepted:
                return None
            return [str(p) for p in dlg.selectedFiles()] or None

        result: list[str] | None = self._show(build)
        return result

    def message(
        self, level: str, text: str, *, title: str = "", buttons: Sequence[Button] = ("ok",)
    ) -> Button | None:
        def build(parent: QWidget) -> Button | None:
            box = QMessageBox(_ICONS[level], title, text, _B.NoButton, parent)
            for name in buttons:
                box.addButton(_BUTTONS[name])
            pressed = _B(self._exec(box))
            return next((n for n, b in _BUTTONS.items() if b == pressed), None)

        result: Button | None = self._show(build)
        return result

    def _show(self, build: Callable[[QWidget], Any]) -> Any:
        """Run ``build(the window's widget)`` on the GUI thread and wait for it."""
        host = self._host
        return host.call_on_ui(lambda: build(host.native.native))

    def _exec(self, dialog: QDialog) -> int:
        """Run ``dialog`` modally (GUI thread), rejected if the page's session ends first.

        Held by the session, so a dialog for a page that has gone is never shown
        (``SessionEnded``), and one still open when it goes is closed: the call returns
        and frees its worker.
        """
        held = self._session.resources.hold(functools.partial(_reject_later, dialog))
        try:
            return dialog.exec()
        finally:
            held.drop()


def _reject_later(dialog: QDialog) -> None:
    """Reject ``dialog`` on the GUI thread, from whichever thread ends the session."""
    QMetaObject.invokeMethod(dialog, "reject", Qt.ConnectionType.QueuedConnection)


def _name_filter(name: str, extensions: Sequence[str]) -> str:
    """``("Images", ["png"])`` -> ``"Images (*.png)"``, Qt's name filter."""
    return f"{name} ({' '.join('*' if e == '*' else '*.' + e for e in extensions)})"
