"""Internal. Native dialogs on GTK: file choosers and message boxes, modal to a window."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gi

gi.require_version("Gtk", "3.0")
from gi.repository import GLib, Gtk  # noqa: E402

from ramparts.backends import Button, PickMode  # noqa: E402
from ramparts.bridge.host import WindowHost  # noqa: E402
from ramparts.bridge.session import WindowSession  # noqa: E402

__all__ = ["GtkDialogs", "choose_files"]

_R = Gtk.ResponseType
_MESSAGE_TYPES = {
    "info": Gtk.MessageType.INFO,
    "warning": Gtk.MessageType.WARNING,
    "error": Gtk.MessageType.ERROR,
    "question": Gtk.MessageType.QUESTION,
}
_RESPONSES: dict[Button, Gtk.ResponseType] = {
    "ok": _R.OK,
    "cancel": _R.CANCEL,
    "yes": _R.YES,
    "no": _R.NO,
}
_ACTIONS: dict[PickMode, Gtk.FileChooserAction] = {
    "open": Gtk.FileChooserAction.OPEN,
    "open-multiple": Gtk.FileChooserAction.OPEN,
    "folder": Gtk.FileChooserAction.SELECT_FOLDER,
    "save": Gtk.FileChooserAction.SAVE,
}


def _chooser(parent: Any, action: Gtk.FileChooserAction, title: str) -> Gtk.FileChooserDialog:
    dialog = Gtk.FileChooserDialog(title=title, transient_for=parent, modal=True, action=action)
    accept = "_Save" if action == Gtk.FileChooserAction.SAVE else "_Open"
    dialog.add_buttons("_Cancel", _R.CANCEL, accept, _R.ACCEPT)
    return dialog


def choose_files(parent: Any, multiple: bool, done: Callable[[list[str]], None]) -> None:
    """The engine's ``<input type=file>`` chooser, for existing files only: shown now,
    and ``done`` gets the picked paths (none if cancelled) once it is answered. Not run
    modally: a nested loop would hold the GUI thread's other work (the page's own
    replies) while it is open."""
    dialog = _chooser(parent, Gtk.FileChooserAction.OPEN, "")
    dialog.set_select_multiple(multiple)

    def answered(dialog: Gtk.FileChooserDialog, response: int) -> None:
        files = list(dialog.get_filenames()) if response == _R.ACCEPT else []
        dialog.destroy()
        done(files)

    dialog.connect("response", answered)
    dialog.show()


class GtkDialogs:
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
        def build(parent: Any) -> list[str] | None:
            dialog = _chooser(parent, _ACTIONS[mode], title)
            dialog.set_select_multiple(mode == "open-multiple")
            if default_path:
                dialog.set_current_folder(default_path)
            if mode == "save":
                dialog.set_do_overwrite_confirmation(True)
                if default_name:
                    dialog.set_current_name(default_name)
            for name, extensions in filters:
                dialog.add_filter(_file_filter(name, extensions))
            if self._run(dialog) != _R.ACCEPT:
                return None
            return [str(p) for p in dialog.get_filenames()] or None

        result: list[str] | None = self._show(build)
        return result

    def message(
        self, level: str, text: str, *, title: str = "", buttons: Sequence[Button] = ("ok",)
    ) -> Button | None:
        def build(parent: Any) -> Button | None:
            box = Gtk.MessageDialog(
                transient_for=parent,
                modal=True,
                message_type=_MESSAGE_TYPES[level],
                buttons=Gtk.ButtonsType.NONE,
                text=title or text,
                secondary_text=text if title else None,
            )
            for name in buttons:
                box.add_button(name.capitalize(), _RESPONSES[name])
            pressed = self._run(box)
            return next((n for n, r in _RESPONSES.items() if r == pressed), None)

        result: Button | None = self._show(build)
        return result

    def _show(self, build: Callable[[Any], Any]) -> Any:
        """Run ``build(the window's Gtk.Window)`` on the GUI thread and wait for it."""
        host = self._host
        return host.call_on_ui(lambda: build(host.native.native))

    def _run(self, dialog: Gtk.Dialog) -> int:
        """Run ``dialog`` modally (GUI thread), cancelled if the page's session ends first.

        Held by the session, so a dialog for a page that has gone is never shown
        (``SessionEnded``), and one still open when it goes is closed: the call returns
        and frees its worker.
        """

        def cancel() -> None:
            # As if closed by its window's close button: no button was pressed.
            GLib.idle_add(lambda: dialog.response(_R.DELETE_EVENT) and False)

        held = self._session.resources.hold(cancel)
        try:
            return int(dialog.run())
        finally:
            held.drop()
            dialog.hide()
            GLib.idle_add(lambda: dialog.destroy() and False)


def _file_filter(name: str, extensions: Sequence[str]) -> Gtk.FileFilter:
    f = Gtk.FileFilter()
    f.set_name(name)
    for e in extensions:
        f.add_pattern("*" if e == "*" else f"*.{e}")
    return f
