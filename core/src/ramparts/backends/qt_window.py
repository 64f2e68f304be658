"""Internal. A window's geometry, state and events on Qt, reached on the GUI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PyQt6 import sip
from PyQt6.QtCore import QEvent, QObject, QPoint, QRect, Qt
from PyQt6.QtGui import QColor, QGuiApplication
from PyQt6.QtWebEngineCore import QWebEnginePage
from PyQt6.QtWidgets import QWidget

from ramparts.backends import WindowEvent, WindowState
from ramparts.bridge.host import WindowHost

if TYPE_CHECKING:
    from ramparts.config import WindowConfig

__all__ = ["QtWindow", "apply_spec", "watch"]

log = logging.getLogger("ramparts.qt")
_S = Qt.WindowState


def _widget(host: WindowHost) -> QWidget:
    """pywebview's top-level widget (its BrowserView) for ``host``'s window."""
    widget = getattr(host.native, "native", None)
    if not isinstance(widget, QWidget) or sip.isdeleted(widget):
        raise RuntimeError(f"window {host.label!r} has closed")
    return widget


class QtWindow:
    """:class:`ramparts.backends.NativeWindow` through one window's GUI thread."""

    def __init__(self, host: WindowHost) -> None:
        self._host = host

    def _do(self, fn: Callable[[QWidget], Any]) -> Any:
        return self._host.call_on_ui(lambda: fn(_widget(self._host)))

    def state(self) -> WindowState:
        def read(w: QWidget) -> WindowState:
            states = w.windowState()
            return WindowState(
                x=w.x(),
                y=w.y(),
                width=w.width(),
                height=w.height(),
                maximized=bool(states & _S.WindowMaximized),
                minimized=bool(states & _S.WindowMinimized),
                fullscreen=bool(states & _S.WindowFullScreen),
                visible=w.isVisible(),
                focused=w.isActiveWindow(),
            )

        result: WindowState = self._do(read)
        return result

    def set_title(self, title: str) -> None:
        self._do(lambda w: w.setWindowTitle(title))

    def set_size(self, width: int, height: int) -> None:
        def resize(w: QWidget) -> None:
            if w.minimumSize() == w.maximumSize():  # not resizable: a fixed size
                w.setFixedSize(width, height)
            w.resize(width, height)

        self._do(resize)

    def set_position(self, x: int, y: int) -> None:
        self._do(lambda w: w.move(x, y))

    def minimize(self) -> None:
        self._do(lambda w: w.showMinimized())

    def maximize(self) -> None:
        self._do(lambda w: w.showMaximized())

    def unmaximize(self) -> None:
        self._do(lambda w: w.showNormal())

    def set_fullscreen(self, on: bool) -> None:
        # Not showFullScreen/showNormal: they drop "maximized", which leaving fullscreen
        # returns to (as window managers do on GTK).
        S = Qt.WindowState

        def fullscreen(w: QWidget) -> None:
            state = w.windowState()
            w.setWindowState(
                (state & ~S.WindowMinimized) | S.WindowFullScreen
                if on
                else state & ~S.WindowFullScreen
            )
            w.show()

        self._do(fullscreen)

    def show(self) -> None:
        self._do(lambda w: w.show())

    def hide(self) -> None:
        self._do(lambda w: w.hide())

    def focus(self) -> None:
        def focus(w: QWidget) -> None:
            w.show()
            w.raise_()
            w.activateWindow()

        self._do(focus)


class _Watcher(QObject):
    """Turns the window's Qt events into :class:`WindowEvent` s (close is pywebview's)."""

    def __init__(self, widget: QWidget, label: str, events: Callable[[WindowEvent], bool]) -> None:
        super().__init__(widget)
        self._label = label
        self._events = events

    def eventFilter(self, obj: QObject | None, event: QEvent | None) -> bool:
        if isinstance(obj, QWidget) and event is not None:
            kind = event.type()
            T = QEvent.Type
            if kind == T.Resize:
                self._emit(
                    WindowEvent("resized", self._label, width=obj.width(), height=obj.height())
                )
            elif kind == T.Move:
                self._emit(WindowEvent("moved", self._label, x=obj.x(), y=obj.y()))
            elif kind in (T.WindowActivate, T.WindowDeactivate):
                self._emit(WindowEvent("focused", self._label, focused=kind == T.WindowActivate))
        return False

    def _emit(self, event: WindowEvent) -> None:
        try:
            self._events(event)
        except Exception:
            log.exception("window event %s of %r failed", event.kind, self._label)


def watch(host: WindowHost, events: Callable[[WindowEvent], bool]) -> None:
    """Report the window's resizes, moves and focus changes to ``events`` (GUI thread)."""
    widget = _widget(host)
    widget.installEventFilter(_Watcher(widget, host.label, events))


def apply_spec(host: WindowHost, page: QWebEnginePage, spec: WindowConfig) -> None:
    """What pywebview's ``create_window`` does not take (GUI thread): the maximum size,
    the page's background, and a position that must land on a screen."""
    widget = _widget(host)
    if spec.max_size is not None:
        widget.setMaximumSize(*spec.max_size)
    if spec.background is not None:
        page.setBackgroundColor(QColor(spec.background))
    if spec.position is not None and not _on_a_screen(widget):
        log.warning(
            "window %r: the position (%d, %d) is off every screen; centred instead",
            host.label,
            *spec.position,
        )
        screen = QGuiApplication.primaryScreen()
        if screen is not None:
            centre = screen.availableGeometry().center()
            widget.move(centre - QPoint(widget.width() // 2, widget.height() // 2))


def _on_a_screen(widget: QWidget) -> bool:
    """Can the user reach the window: does some screen hold its top edge (where a title
    bar is), at least 50 pixels of it?"""
    frame = widget.frameGeometry()
    strip = QRect(frame.x(), frame.y(), frame.width(), 1)
    return any(
        s.geometry().intersected(strip).width() >= min(50, frame.width())
        for s in QGuiApplication.screens()
    )
