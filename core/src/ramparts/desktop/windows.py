"""Window control from Python: ``App.window(label)``, ``@on_window_event`` and the
remembered window state (docs/capabilities/window.md).

Internal module; apps reach it through ``ramparts`` (``on_window_event``,
``WindowEvent``, ``WindowState``, ``Window``) and ``App.window``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ramparts.backends import NativeWindow, WindowEvent, WindowState
from ramparts.desktop.handlers import HandlerThread
from ramparts.errors import RampartsError
from ramparts.toolkit.atomic import atomic_write
from ramparts.toolkit.dirs import base_dirs, make_app_dir

if TYPE_CHECKING:
    from ramparts.commands import RunningApp
    from ramparts.config import AppConfig, WindowConfig

__all__ = [
    "STATE_FILE",
    "Window",
    "WindowClosed",
    "WindowEvent",
    "WindowEventHandler",
    "WindowEvents",
    "WindowState",
    "event_handlers_in",
    "is_normal",
    "load_state",
    "on_window_event",
    "page_events",
    "restored",
    "save_state",
    "state_file",
]

log = logging.getLogger("ramparts.desktop.windows")


def page_events(config: AppConfig) -> frozenset[str]:
    """The window events the ``window`` capability's ``events`` grant to the pages of
    windows that have the capability. Here, not in the capability's module: the core
    asks even in apps that do not declare it, whose builds leave that module out."""
    cap = config.capabilities.get("window")
    events = cap.options.get("events", []) if cap is not None else []
    return frozenset(events)  # checked by the capability's ``configure`` at load


#: The file in the app's data folder (``$APPDATA``) that remembers window states.
STATE_FILE = "window-state.json"
_MARK = "__ramparts_window_event__"

#: The type of an ``@on_window_event`` function: it gets the running app and the event;
#: for ``close-requested``, returning ``False`` keeps the window open.
WindowEventHandler = Callable[["RunningApp", WindowEvent], object]
H = TypeVar("H", bound=WindowEventHandler)


class WindowClosed(RampartsError):
    """The window is not open (it was never opened, or has closed)."""


def on_window_event(func: H) -> H:
    """Mark a function in the app's commands module as a handler of window events.

    The running app calls ``func(app, event)`` for each :class:`WindowEvent` of every
    window: ``resized``, ``moved`` and ``focused`` on a thread of their own, one after
    another in order; ``close-requested`` on the GUI thread while the window waits, so
    be quick there (no dialog, no waiting on a page). Returning ``False`` from a
    ``close-requested`` call keeps the window open; ``app.window(label).close(force=True)``
    closes it later without asking. Exceptions go to the Python log (a failing
    ``close-requested`` handler lets the window close).
    """
    setattr(func, _MARK, True)
    return func


def event_handlers_in(module: object) -> tuple[WindowEventHandler, ...]:
    """The ``@on_window_event`` functions among ``module``'s names."""
    return tuple(v for v in vars(module).values() if callable(v) and getattr(v, _MARK, False))


class Window:
    """One of the app's windows, by label: ``app.window("main")``. Every method works
    from any thread (the toolkit's work is done on the GUI thread while the caller
    waits) and raises :class:`WindowClosed` when the window is not open.

    The window manager has the last word: a maximize, minimize, fullscreen, focus or
    always-on-top needs one, and may take effect after the call returns.
    """

    def __init__(
        self,
        label: str,
        native: Callable[[], NativeWindow | None],
        close: Callable[[bool], None],
    ) -> None:
        self.label = label
        self._native = native
        self._close = close

    def _window(self) -> NativeWindow:
        native = self._native()
        if native is None:
            raise WindowClosed(f"window {self.label!r} is not open")
        return native

    def _run(self, fn: Callable[[NativeWindow], Any]) -> Any:
        try:
            return fn(self._window())
        except RuntimeError as e:  # it closed while the call was on its way
            raise WindowClosed(str(e)) from None

    @property
    def is_open(self) -> bool:
        return self._native() is not None

    def state(self) -> WindowState:
        """Its size, position and state now, as the toolkit reports them."""
        result: WindowState = self._run(lambda w: w.state())
        return result

    def set_title(self, title: str) -> None:
        self._run(lambda w: w.set_title(title))

    def set_size(self, width: int, height: int) -> None:
        """Resize it (the ``min``/``max`` size in the config still bound it)."""
        _check_size(width, height)
        self._run(lambda w: w.set_size(width, height))

    def set_position(self, x: int, y: int) -> None:
        """Move its top-left corner to ``(x, y)`` on the screen."""
        self._run(lambda w: w.set_position(x, y))

    def minimize(self) -> None:
        self._run(lambda w: w.minimize())

    def maximize(self) -> None:
        """Maximize it; a minimized or fullscreen window comes back maximized."""
        self._run(lambda w: w.maximize())

    def unmaximize(self) -> None:
        """Back to its normal size from maximized, minimized or fullscreen."""
        self._run(lambda w: w.unmaximize())

    def set_fullscreen(self, on: bool = True) -> None:
        """Fullscreen (from minimized too), or back to what it was before: maximized
        or normal."""
        self._run(lambda w: w.set_fullscreen(on))

    def show(self) -> None:
        self._run(lambda w: w.show())

    def hide(self) -> None:
        self._run(lambda w: w.hide())

    def focus(self) -> None:
        """Show and raise it, and give it the keyboard focus."""
        self._run(lambda w: w.focus())

    def close(self, *, force: bool = False) -> None:
        """Ask it to close: ``@on_window_event`` handlers may keep it open, unless
        ``force``. Closing the main window closes the others (forced)."""
        self._window()
        self._close(force)


def _check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ValueError(f"a window size is pixels > 0, not {width} x {height}")


class WindowEvents:
    """Hands window events to the app's handlers and to the pages granted them.

    ``close-requested`` is answered on the calling (GUI) thread; the others go to the
    handlers on a thread of their own (:class:`~ramparts.desktop.handlers.HandlerThread`).
    """

    def __init__(
        self,
        app: RunningApp,
        handlers: tuple[WindowEventHandler, ...],
        to_page: Callable[[WindowEvent], None],
    ) -> None:
        self._to_page = to_page
        self._handlers = HandlerThread(app, handlers, "ramparts-window-events", "window event")

    def __call__(self, event: WindowEvent) -> bool:
        """The backend's ``events``: ``False`` keeps a window open."""
        if event.kind == "close-requested":
            # Every handler is asked (no short cut); the page hears of it afterwards.
            answers = [self._handlers.call(h, event) for h in self._handlers.handlers]
            self._to_page(event)
            return all(a is not False for a in answers)
        self._to_page(event)
        self._handlers.put(event)
        return True


# -- remembered state ---------------------------------------------------------------------


def is_normal(state: WindowState) -> bool:
    """Whether ``state``'s size and position are the window's own (not maximized,
    minimized or fullscreen): the ones to give back when it is restored."""
    return not (state.maximized or state.fullscreen or state.minimized)


def state_file(identifier: str, resource_dir: Path) -> Path:
    return base_dirs(identifier, resource_dir)["APPDATA"] / STATE_FILE


def load_state(file: Path) -> dict[str, Any]:
    """The remembered states by label; an unreadable or malformed file is ignored with a
    warning (the windows open as the config says)."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        log.warning("ignoring the remembered window state in %s: %s", file, e)
        return {}
    if not isinstance(data, dict):
        log.warning("ignoring the remembered window state in %s: not a JSON object", file)
        return {}
    return data


def restored(spec: WindowConfig, saved: Any, file: Path) -> WindowConfig:
    """``spec`` with its remembered size, position and maximized, if ``saved`` holds a
    sound entry (else ``spec``, with a warning). The size stays within the config's
    limits; a position off every screen is the backend's to catch."""
    if saved is None:
        return spec
    fields = ("x", "y", "width", "height")
    if (
        not isinstance(saved, dict)
        or not all(type(saved.get(k)) is int for k in fields)
        or not isinstance(saved.get("maximized", False), bool)
        or saved["width"] <= 0
        or saved["height"] <= 0
    ):
        log.warning("ignoring the remembered state of window %r in %s: %r", spec.label, file, saved)
        return spec
    width, height = _bounded(spec, saved["width"], saved["height"])
    return attrs.evolve(
        spec,
        width=width,
        height=height,
        position=(saved["x"], saved["y"]),
        maximized=saved.get("maximized", False),
    )


def _bounded(spec: WindowConfig, width: int, height: int) -> tuple[int, int]:
    low = spec.min_size or (1, 1)
    high = spec.max_size or (width, height)
    return max(low[0], min(width, high[0])), max(low[1], min(height, high[1]))


def save_state(
    file: Path, label: str, state: WindowState, normal: WindowState | None = None
) -> None:
    """Remember ``label``'s state (atomically: a crash leaves the old file or the new).

    A maximized, minimized or fullscreen window keeps a normal size and position beneath:
    ``normal`` (the last seen this run, see :func:`is_normal`), else the one remembered
    before, so that unmaximizing after the next launch gives them back.
    """
    states = load_state(file)
    before = states.get(label) if isinstance(states.get(label), dict) else None
    if normal is not None:
        before = {k: getattr(normal, k) for k in ("x", "y", "width", "height")}
    entry: dict[str, Any] = {
        "x": state.x,
        "y": state.y,
        "width": state.width,
        "height": state.height,
        "maximized": state.maximized,
    }
    if not is_normal(state) and before is not None:
        entry = {**before, "maximized": state.maximized}
    states[label] = entry
    try:
        make_app_dir(file.parent)
        atomic_write(file, json.dumps(states, indent=1).encode())
    except OSError as e:
        log.warning("could not remember the state of window %r in %s: %s", label, file, e)
