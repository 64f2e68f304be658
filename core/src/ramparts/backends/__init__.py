"""Webview backends: the only code that touches a GUI toolkit or a concrete webview.

Internal: apps and plugins reach a backend only through ``App`` and ``CallContext``.

The app (:class:`ramparts.app.App`), the build and the plugins talk to the
:class:`Backend` protocol only; :func:`get_backend` picks one by name. A backend
carries out a :class:`~ramparts.bridge.host.WindowHost`'s decisions. It must:

* serve ``app://<identifier>/`` through the host (``host.serve``) with its headers, and
  pass POSTs to ``/.ramparts/ipc`` to ``host.binary_message`` with the origin the
  webview reports as the request's initiator; open no TCP port;
* ask ``host.allow_navigation(url, main_frame)`` before every navigation, and refuse
  new windows;
* inject ``host.bootstrap_script()`` into the main frame's main world and
  ``host.relay_script(...)`` into an isolated world, both at document creation, after
  every allowed main-frame navigation, and expose no native channel to the main world;
* pass channel messages from the relay to ``host.channel_message`` with the main
  frame's URL as the webview reports it, and deliver ``host.connect``'s texts back;
* answer every permission request the engine raises (media, screen capture,
  notifications, clipboard, file system access, ...) with ``host.allow_web`` (given
  the origin and main-frame URL the engine reports), refuse folder uploads, and refuse
  file choosers, file drops and file pastes unless ``host.allow_web`` grants
  ``file-input`` / ``file-drop``; start the engine before anything (pywebview
  included) can add a switch that approves requests;
* build the page's context menu itself: the editing entries the engine enables and the
  app's declared items only (``open_window``'s ``menus``), with no engine entry that
  navigates, reloads, saves, prints, shows the source or opens the inspector.

Two are implemented: Qt WebEngine (``ramparts.backends.qt``, the default) and
WebKitGTK (``ramparts.backends.gtk``), chosen by ``backend`` in ``[tool.ramparts]`` or
``RAMPARTS_BACKEND``. Where WebKitGTK reports less than the contract above assumes (the
main frame at request time, the initiator, the frame tree, console messages), the GTK
backend's substitutes and their differences are in docs/backends.md. If pywebview picks
another GUI than the chosen backend's, the app refuses to start rather than fall back to
pywebview's ``js_api``. Another backend is one more module and one more line in
:data:`BACKENDS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

import attrs

from ramparts.errors import BackendError

if TYPE_CHECKING:
    from ramparts.bridge.host import WindowHost
    from ramparts.bridge.session import WindowSession
    from ramparts.config import AppConfig, WindowConfig
    from ramparts.menuconfig import MenuItem

__all__ = [
    "BACKENDS",
    "Backend",
    "Button",
    "EvalResult",
    "NativeClipboard",
    "NativeDialogs",
    "NativeWindow",
    "PickMode",
    "Prune",
    "Shipping",
    "WindowEvent",
    "WindowEventKind",
    "WindowMenus",
    "WindowState",
    "get_backend",
]

#: The backends by name: ``"module:Class"``, imported only when chosen (the module
#: imports its toolkit).
BACKENDS = {
    "qt": "ramparts.backends.qt:QtBackend",
    "gtk": "ramparts.backends.gtk:GtkBackend",
}

#: What a file dialog picks: one existing file, several, one folder, or where to save.
PickMode = Literal["open", "open-multiple", "folder", "save"]
#: The buttons a message box can show.
Button = Literal["ok", "cancel", "yes", "no"]


@attrs.define
class EvalResult:
    """What a page script run with ``ramparts dev --eval`` came to."""

    ok: bool
    value: Any = None  # the JSON text the page's promise resolved to
    error: str | None = None
    timed_out: bool = False


@attrs.frozen
class Prune:
    """Something PyInstaller's hooks collect that a built app does without, and why.

    :ivar name: how the build's output and ``[tool.ramparts.build] keep`` docs name it.
    :ivar reason: why the app does without it (the build prints it).
    :ivar modules: Python modules never collected (``--exclude-module``), so neither
        are the files their hooks would bring.
    :ivar paths: glob patterns (``pathlib`` syntax, ``**`` any depth) under the built
        app's ``_internal`` folder: files deleted after PyInstaller, before hashing.
    :ivar spare: patterns the ``paths`` match that stay all the same (the minimum the
        engine needs).
    :ivar system: the libraries the ``paths`` match come from the system at run time,
        so files that stay may link them. Otherwise such a library stays, and the build
        says which file links it.
    """

    name: str
    reason: str
    modules: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    spare: tuple[str, ...] = ()
    system: bool = False


@attrs.frozen
class Shipping:
    """What PyInstaller must be told for a built app to hold a backend and its toolkit.

    :ivar hidden_imports: modules imported by name at run time (PyInstaller cannot see
        them), the backend's own module included.
    :ivar collect_data: packages whose data files must ship.
    :ivar prune: what the build leaves out (see docs/build.md, "Size").
    :ivar debian_depends: Debian packages a ``.deb`` of the app depends on besides
        those its bundled binaries link to: what the toolkit loads by name at run time
        (docs/packaging.md).
    """

    hidden_imports: tuple[str, ...] = ()
    collect_data: tuple[str, ...] = ()
    prune: tuple[Prune, ...] = ()
    debian_depends: tuple[str, ...] = ()

    def pyinstaller_args(self) -> list[str]:
        excludes = [m for p in self.prune for m in p.modules]
        return [
            *(a for m in self.hidden_imports for a in ("--hidden-import", m)),
            *(a for p in self.collect_data for a in ("--collect-data", p)),
            *(a for m in excludes for a in ("--exclude-module", m)),
        ]


class NativeDialogs(Protocol):
    """The toolkit's dialogs, modal to one window, for one page's session.

    Each call blocks its (worker) thread while the dialog runs on the GUI thread. A
    dialog is held by the session (``session.resources``): one asked for after the page
    has gone is never shown (``SessionEnded``), and one still open when the page goes is
    closed as if cancelled.
    """

    def pick(
        self,
        mode: PickMode,
        *,
        title: str = "",
        default_path: str = "",
        default_name: str = "",
        filters: Sequence[tuple[str, Sequence[str]]] = (),
    ) -> list[str] | None:
        """The paths picked, or ``None`` if cancelled.

        :param default_name: the file name proposed (``save`` only).
        :param filters: ``(name, extensions)`` pairs, ``"*"`` for any extension.
        """

    def message(
        self, level: str, text: str, *, title: str = "", buttons: Sequence[Button] = ("ok",)
    ) -> Button | None:
        """The button pressed (``None``: the box was closed otherwise).

        :param level: ``info``, ``warning``, ``error`` or ``question``.
        """


class NativeClipboard(Protocol):
    """The toolkit's clipboard (the desktop's, shared with every other app), as text.

    Each call blocks its (worker) thread while it runs on the GUI thread, where the
    toolkit's clipboard lives.
    """

    def read_text(self) -> str | None:
        """The clipboard's text; ``None`` when it holds none (empty, or an image)."""

    def write_text(self, text: str) -> None:
        """Put ``text`` on the clipboard in place of whatever it held."""


#: What a window reports: its size or position changed, it gained or lost the keyboard
#: focus, or someone asked to close it (the close button, Alt+F4, ``close()``).
WindowEventKind = Literal["resized", "moved", "focused", "close-requested"]


@attrs.frozen
class WindowState:
    """A window's geometry and state, read from the toolkit (pixels; the position is the
    top-left corner on the screen, as ``move`` takes it)."""

    x: int
    y: int
    width: int
    height: int
    maximized: bool
    minimized: bool
    fullscreen: bool
    visible: bool
    focused: bool

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class WindowEvent:
    """Something that happened to a window (``@on_window_event``, page events).

    :ivar kind: what happened.
    :ivar window: the window's label.
    :ivar x: the new position (``moved``).
    :ivar y: the new position (``moved``).
    :ivar width: the new size (``resized``).
    :ivar height: the new size (``resized``).
    :ivar focused: whether the window now has the focus (``focused``).
    """

    kind: WindowEventKind
    window: str
    x: int | None = None
    y: int | None = None
    width: int | None = None
    height: int | None = None
    focused: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """The payload the page gets: the fields this kind sets."""
        return {k: v for k, v in attrs.asdict(self).items() if v is not None and k != "kind"}


@attrs.frozen
class WindowMenus:
    """A window's menus (docs/menus.md): the app menu and what the page's context menu
    adds to its editing entries.

    :ivar bar: the app menu's submenus, shown in the window's menu bar.
    :ivar context: the items the page's context menu shows after its editing entries.
    :ivar chosen: called on the GUI thread with ``(id, menu)`` when an enabled item is
        chosen: ``menu`` is ``"app"`` (its menu bar entry or accelerator) or
        ``"context"``.
    """

    bar: tuple[MenuItem, ...] = ()
    context: tuple[MenuItem, ...] = ()
    chosen: Callable[[str, str], None] | None = None


class NativeWindow(Protocol):
    """One open window, driven through the toolkit on the GUI thread.

    Each call blocks its thread until the GUI thread has done it (from the GUI thread it
    runs at once). The window manager decides some of it later, or not at all: a
    maximize, a minimize, fullscreen and the focus need one, and may come after the
    call returns (docs/capabilities/window.md).
    """

    def state(self) -> WindowState:
        """The window's geometry and state now."""

    def set_title(self, title: str) -> None: ...

    def set_size(self, width: int, height: int) -> None:
        """Resize (within the window's ``min``/``max`` size)."""

    def set_position(self, x: int, y: int) -> None: ...

    def minimize(self) -> None: ...

    def maximize(self) -> None:
        """Maximized, out of minimized and fullscreen."""

    def unmaximize(self) -> None:
        """Back to the normal size from maximized, minimized or fullscreen."""

    def set_fullscreen(self, on: bool) -> None:
        """Fullscreen (out of minimized), or back to the state before it."""

    def show(self) -> None: ...

    def hide(self) -> None: ...

    def focus(self) -> None:
        """Show, raise and give the window the keyboard focus."""


class Backend(Protocol):
    """A webview backend: environment, GUI loop, windows, page scripts, dialogs."""

    #: The name :func:`get_backend` knows it by.
    name: str
    #: What :mod:`ramparts.release.build` must ship for it.
    shipping: Shipping

    def prepare(self, *, headless: bool, config: AppConfig) -> None:
        """Set up the process before the toolkit starts: its environment (no screen:
        an offscreen platform), the engine's switches confined to the hosts the CSP
        names with no debugging or approving switch left, URL schemes."""

    def run(self) -> None:
        """Run the GUI loop on this (the main) thread until every window has closed.

        :raises BackendError: the webview could not give the bridge its guarantees.
        """

    def open_window(
        self,
        host: WindowHost,
        spec: WindowConfig,
        *,
        closed: Callable[[], None],
        console: Callable[[str, str], None] | None = None,
        devtools: Callable[[str], None] | None = None,
        loaded: Callable[[str], None] | None = None,
        reload_keys: bool = False,
        events: Callable[[WindowEvent], bool] | None = None,
        closing: Callable[[], None] | None = None,
        menus: WindowMenus | None = None,
    ) -> None:
        """Open a window for ``host`` (any thread; on the GUI thread, once running, the
        window opens just after this returns, and an error there is logged).

        The window takes every key of ``spec``; a position off every screen is
        replaced by the centre of the first one, with a warning.

        :param closed: called once the window has closed.
        :param events: called on the GUI thread with each of the window's events; for
            ``close-requested``, ``False`` keeps the window open (``close_window`` with
            ``force`` asks no one).
        :param closing: called on the GUI thread as the window goes (forced or not),
            while the toolkit still has it: its last state can be read.
        :param console: called with the level (``"info"``, ``"warning"`` or
            ``"error"``; an uncaught exception is an error) and a line for every page
            console message.
        :param devtools: open the engine's inspector for the page in a window of its
            own, in this process and with no TCP port (``ramparts dev --devtools``
            only), and call this with the inspector's URL once it has loaded.
        :param loaded: called with the main frame's URL each time a page has finished
            loading in the window (the first load, every reload and navigation).
        :param reload_keys: F5 and Ctrl+R (Cmd+R on macOS) reload the page, and the page
            never sees those keys (``ramparts dev`` only).
        :param menus: the window's menu bar and context menu items. Whatever it holds,
            the page's context menu offers only the editing entries (cut, copy, paste,
            select all, as the engine enables them) and these items: nothing that
            navigates, reloads, saves, prints, opens the inspector (unless ``devtools``)
            or shows the source.
        """

    def reload_window(self, host: WindowHost) -> None:
        """Reload the page of ``host``'s window, bypassing any cache, if it has one (any
        thread). A reload is a main-frame navigation: the page gets a new session."""

    def show_window(self, host: WindowHost) -> None:
        """Show and raise ``host``'s window, if it has one (any thread)."""

    def close_window(self, host: WindowHost, *, force: bool = False) -> None:
        """Close ``host``'s window, if it has one (any thread): a close request (the
        ``events`` of ``open_window`` may refuse it) unless ``force``."""

    def window(self, host: WindowHost) -> NativeWindow | None:
        """``host``'s window in the toolkit; ``None`` if it has none (yet)."""

    def evaluate(self, host: WindowHost, source: str, timeout: float) -> EvalResult:
        """Run ``source`` (an async function's body) as a page script once ``host``'s
        window, opened but not shown yet, has loaded its page; close the window when its
        promise settles or ``timeout`` seconds pass. The result is filled in by then."""

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the GUI thread after the calls already queued there (any thread)."""

    def dialogs(self, host: WindowHost, session: WindowSession) -> NativeDialogs | None:
        """Native dialogs modal to ``host``'s window for ``session``; ``None`` if the
        window has no webview."""

    def clipboard(self, host: WindowHost) -> NativeClipboard | None:
        """The toolkit's clipboard, reached through ``host``'s window; ``None`` if the
        window has no webview."""


def get_backend(name: str = "qt") -> Backend:
    """The backend called ``name`` (its toolkit is imported now).

    :raises BackendError: no backend has that name.
    """
    target = BACKENDS.get(name)
    if target is None:
        raise BackendError(
            f"unknown webview backend {name!r}; the known ones: {', '.join(sorted(BACKENDS))}"
        )
    module, _, cls = target.partition(":")
    try:
        imported = importlib.import_module(module)
    # Not installed (or not built in): an ImportError; gi says a missing typelib (the
    # system's WebKitGTK) with a ValueError.
    except (ImportError, ValueError) as e:
        raise BackendError(
            f"the {name!r} webview backend cannot start: {e}"
            + (" (install ramparts[gtk] and WebKitGTK 4.1)" if name == "gtk" else "")
        ) from e
    backend: Backend = getattr(imported, cls)()
    return backend
