"""Internal. The desktop clipboard on Qt, as text, reached on the GUI thread."""

from __future__ import annotations

from PyQt6.QtGui import QClipboard
from PyQt6.QtWidgets import QApplication

from ramparts.bridge.host import WindowHost

__all__ = ["QtClipboard"]

_MODE = QClipboard.Mode.Clipboard  # Ctrl+C / Ctrl+V; never X11's selection


class QtClipboard:
    """:class:`ramparts.backends.NativeClipboard` through one window's GUI thread."""

    def __init__(self, host: WindowHost) -> None:
        self._host = host

    def read_text(self) -> str | None:
        def read() -> str | None:
            clipboard = QApplication.clipboard()
            mime = clipboard.mimeData(_MODE) if clipboard is not None else None
            if mime is None or not mime.hasText():
                return None
            return str(mime.text())

        result: str | None = self._host.call_on_ui(read)
        return result

    def write_text(self, text: str) -> None:
        def write() -> None:
            clipboard = QApplication.clipboard()
            if clipboard is None:
                raise RuntimeError("Qt has no clipboard in this process")
            clipboard.setText(text, _MODE)

        self._host.call_on_ui(write)
