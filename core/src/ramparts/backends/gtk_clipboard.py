"""Internal. The desktop clipboard on GTK, as text, reached on the GUI thread."""

from __future__ import annotations

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, Gtk  # noqa: E402

from ramparts.bridge.host import WindowHost  # noqa: E402

__all__ = ["GtkClipboard"]


def _clipboard() -> Gtk.Clipboard:
    # CLIPBOARD (Ctrl+C / Ctrl+V), never PRIMARY (X11's selection, middle click).
    return Gtk.Clipboard.get(Gdk.SELECTION_CLIPBOARD)


class GtkClipboard:
    """:class:`ramparts.backends.NativeClipboard` through one window's GUI thread."""

    def __init__(self, host: WindowHost) -> None:
        self._host = host

    def read_text(self) -> str | None:
        # wait_for_text runs a nested loop until the owner answers (GTK gives up after
        # a few seconds on an owner that never does), and answers our own text at once.
        def read() -> str | None:
            text = _clipboard().wait_for_text()
            return None if text is None else str(text)

        result: str | None = self._host.call_on_ui(read)
        return result

    def write_text(self, text: str) -> None:
        data = text.encode("utf-8")  # the length GTK takes is in bytes

        def write() -> None:
            _clipboard().set_text(text, len(data))

        self._host.call_on_ui(write)
