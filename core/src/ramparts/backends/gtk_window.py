"""Internal. A window's geometry, state and events on GTK, reached on the GUI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, Gtk  # noqa: E402

from ramparts.backends import WindowEvent, WindowState  # noqa: E402
from ramparts.bridge.host import WindowHost  # noqa: E402

if TYPE_CHECKING:
    from ramparts.config import WindowConfig

__all__ = ["GtkWindow", "apply_spec", "watch"]

log = logging.getLogger("ramparts.gtk")
_W = Gdk.WindowState


def _toplevel(host: WindowHost) -> Gtk.Window:
    """pywebview's GtkWindow for ``host``'s window."""
    from webview.platforms.gtk import BrowserView

    browser = BrowserView.instances.get(getattr(host.native, "uid", None))
    if browser is None:
        raise RuntimeError(f"window {host.label!r} has closed")
    window: Gtk.Window = browser.window
    return window


class GtkWindow:
    """:class:`ramparts.backends.NativeWindow` through one window's GUI thread."""

    def __init__(self, host: WindowHost) -> None:
        self._host = host

    def _do(self, fn: Callable[[Gtk.Window], Any]) -> Any:
        return self._host.call_on_ui(lambda: fn(_toplevel(self._host)))

    def state(self) -> WindowState:
        def read(w: Gtk.Window) -> WindowState:
            x, y = w.get_position()
            width, height = w.get_size()
            gdk = w.get_window()
            states = gdk.get_state() if gdk is not None else _W(0)
            return WindowState(
                x=x,
                y=y,
                width=width,
                height=height,
                maximized=w.is_maximized(),
                minimized=bool(states & _W.ICONIFIED),
                fullscreen=bool(states & _W.FULLSCREEN),
                visible=w.get_visible(),
                focused=w.has_toplevel_focus(),
            )

        result: WindowState = self._do(read)
        return result

    def set_title(self, title: str) -> None:
        self._do(lambda w: w.set_title(title))

    def set_size(self, width: int, height: int) -> None:
        def resize(w: Gtk.Window) -> None:
            if not w.get_resizable():  # pywebview fixes such a window's size this way
                w.set_size_request(width, height)
            w.resize(width, height)

        self._do(resize)

    def set_position(self, x: int, y: int) -> None:
        self._do(lambda w: w.move(x, y))

    def minimize(self) -> None:
        self._do(lambda w: w.iconify())

    def maximize(self) -> None:
        def maximized(w: Gtk.Window) -> None:
            # As Qt's showMaximized: out of minimized and fullscreen, then maximized.
            w.deiconify()
            w.unfullscreen()
            w.maximize()

        self._do(maximized)

    def unmaximize(self) -> None:
        def normal(w: Gtk.Window) -> None:
            w.deiconify()
            w.unfullscreen()
            w.unmaximize()

        self._do(normal)

    def set_fullscreen(self, on: bool) -> None:
        def fullscreen(w: Gtk.Window) -> None:
            if on:
                w.deiconify()
                w.fullscreen()
            else:
                w.unfullscreen()

        self._do(fullscreen)

    def show(self) -> None:
        self._do(lambda w: w.show())

    def hide(self) -> None:
        self._do(lambda w: w.hide())

    def focus(self) -> None:
        self._do(lambda w: w.present())


def watch(host: WindowHost, events: Callable[[WindowEvent], bool]) -> None:
    """Report the window's resizes, moves and focus changes to ``events`` (GUI thread)."""
    window = _toplevel(host)
    label = host.label
    last: dict[str, tuple[int, int]] = {}

    def emit(event: WindowEvent) -> None:
        try:
            events(event)
        except Exception:
            log.exception("window event %s of %r failed", event.kind, label)

    def configured(w: Gtk.Window, _: Any) -> bool:
        # One configure-event for both; report only what changed.
        size, position = w.get_size(), w.get_position()
        if last.get("size") != tuple(size):
            last["size"] = tuple(size)
            emit(WindowEvent("resized", label, width=size[0], height=size[1]))
        if last.get("position") != tuple(position):
            last["position"] = tuple(position)
            emit(WindowEvent("moved", label, x=position[0], y=position[1]))
        return False

    def focus(_: Gtk.Window, __: Any, on: bool) -> bool:
        emit(WindowEvent("focused", label, focused=on))
        return False

    window.connect("configure-event", configured)
    window.connect("focus-in-event", focus, True)
    window.connect("focus-out-event", focus, False)


def apply_spec(host: WindowHost, spec: WindowConfig) -> None:
    """What pywebview's ``create_window`` does not take (GUI thread): the maximum size,
    and a position that must land on a screen (pywebview sets the page's background)."""
    window = _toplevel(host)
    if spec.max_size is not None:
        geometry = Gdk.Geometry()
        geometry.min_width, geometry.min_height = spec.min_size or (1, 1)
        geometry.max_width, geometry.max_height = spec.max_size
        hints = Gdk.WindowHints.MIN_SIZE | Gdk.WindowHints.MAX_SIZE
        window.set_geometry_hints(None, geometry, hints)
    if spec.position is not None and not _on_a_screen(window):
        log.warning(
            "window %r: the position (%d, %d) is off every screen; centred instead",
            host.label,
            *spec.position,
        )
        monitors = _monitors()
        if monitors:
            area, (width, height) = monitors[0], window.get_size()
            window.move(area.x + (area.width - width) // 2, area.y + (area.height - height) // 2)


def _monitors() -> list[Gdk.Rectangle]:
    display = Gdk.Display.get_default()
    if display is None:
        return []
    return [display.get_monitor(i).get_geometry() for i in range(display.get_n_monitors())]


def _on_a_screen(window: Gtk.Window) -> bool:
    """Can the user reach the window: does some screen hold its top edge (where a title
    bar is), at least 50 pixels of it?"""
    x, y = window.get_position()
    width, _ = window.get_size()
    for area in _monitors():
        left, right = max(x, area.x), min(x + width, area.x + area.width)
        if area.y <= y < area.y + area.height and right - left >= min(50, width):
            return True
    return False
