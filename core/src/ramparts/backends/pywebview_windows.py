"""What both backends do the same way through pywebview: its GUI loop and its windows.

Internal: the base of :class:`~ramparts.backends.qt.QtBackend` and
:class:`~ramparts.backends.gtk.GtkBackend`. Each engine's own part (its page, scheme,
relay and scripts) is attached in ``before_show``, by the subclass's ``_attacher``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import attrs
import webview

from ramparts.backends import EvalResult, NativeWindow, WindowEvent, WindowMenus
from ramparts.errors import BackendError

if TYPE_CHECKING:
    from ramparts.bridge.host import WindowHost
    from ramparts.config import WindowConfig

__all__ = ["PageHooks", "PywebviewBackend", "close_forced", "eval_poll_ms"]

log = logging.getLogger("ramparts.backends")


@attrs.frozen
class PageHooks:
    """What ``open_window`` asked for besides the page itself (see ``Backend.open_window``)."""

    console: Callable[[str, str], None] | None = None
    devtools: Callable[[str], None] | None = None
    loaded: Callable[[str], None] | None = None
    reload_keys: bool = False
    #: The window's events (``Backend.open_window``'s ``events``).
    events: Callable[[WindowEvent], bool] | None = None
    #: The window's config, for what pywebview's ``create_window`` does not take.
    spec: WindowConfig | None = None
    #: Called as the window goes (``Backend.open_window``'s ``closing``).
    closing: Callable[[], None] | None = None
    #: The window's menus (``Backend.open_window``'s ``menus``).
    menus: WindowMenus = attrs.field(factory=WindowMenus)


class PywebviewBackend:
    """The GUI loop, window creation and ``--eval`` queue shared by the backends.

    Subclasses set :attr:`name`, :attr:`gui` (pywebview's GUI module), :attr:`renderer`
    (what pywebview reports for it: a window on any other is refused) and
    :attr:`engine`, and give ``call_soon`` and ``_attacher``.
    """

    name: str
    gui: Literal["qt", "gtk"]
    renderer: str
    #: The engine, as the refusal names it.
    engine: str

    def __init__(self) -> None:
        #: Set just before the GUI loop starts (it runs on the main thread until exit).
        self._running = False
        #: The renderers pywebview chose that are not this backend's (each window refused).
        self._refused: list[str] = []
        #: ``evaluate``'s page scripts, waiting for their window to be attached.
        self._evals: dict[WindowHost, tuple[str, float, EvalResult]] = {}

    def call_soon(self, fn: Callable[[], None]) -> None:
        raise NotImplementedError

    def _attacher(self, host: WindowHost, hooks: PageHooks) -> Callable[[Any], None]:
        """``before_show`` for ``host``'s window: attach the engine's page to it, once."""
        raise NotImplementedError

    def _engine_ready(self) -> None:
        """pywebview has loaded this backend's GUI module but built no window yet."""

    def run(self) -> None:
        self._running = True
        try:
            webview.start(gui=self.gui, private_mode=True)
        finally:
            self._running = False
        if self._refused:
            raise BackendError(
                f"Ramparts needs the {self.engine} backend; pywebview chose "
                f"{self._refused[0]!r}. Refusing to start without the secured bridge."
            )

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
        hooks = PageHooks(
            console, devtools, loaded, reload_keys, events, spec, closing, menus or WindowMenus()
        )
        if self._running and threading.current_thread() is threading.main_thread():
            # On the GUI thread (a toolkit callback), pywebview only queues a new window
            # for a start() that has already happened: ask from another thread, which
            # it builds at once (on the GUI thread, after this callback returns).
            def open_logged() -> None:
                try:
                    self._create_window(host, spec, closed, hooks)
                except Exception:
                    log.exception("opening window %r failed", spec.label)

            threading.Thread(target=open_logged, name="ramparts-open", daemon=True).start()
            return
        self._create_window(host, spec, closed, hooks)

    def show_window(self, host: WindowHost) -> None:
        if host.native is not None:
            host.native.show()

    def close_window(self, host: WindowHost, *, force: bool = False) -> None:
        window = host.native
        if window is not None:
            close_forced(window) if force else window.destroy()

    def window(self, host: WindowHost) -> NativeWindow | None:
        return None if host.native is None else self._native_window(host)

    def _native_window(self, host: WindowHost) -> NativeWindow:
        raise NotImplementedError

    def evaluate(self, host: WindowHost, source: str, timeout: float) -> EvalResult:
        result = EvalResult(ok=False)
        self._evals[host] = (source, timeout, result)
        return result

    def _create_window(
        self, host: WindowHost, spec: WindowConfig, closed: Callable[[], None], hooks: PageHooks
    ) -> None:
        window = webview.create_window(
            spec.title,
            html=" ",
            width=spec.width,
            height=spec.height,
            resizable=spec.resizable,
            x=spec.position[0] if spec.position is not None else None,
            y=spec.position[1] if spec.position is not None else None,
            min_size=spec.min_size or (200, 100),  # pywebview's own default
            fullscreen=spec.fullscreen,
            maximized=spec.maximized,
            frameless=spec.frameless,
            on_top=spec.always_on_top,
            hidden=spec.hidden,
            background_color=spec.background or "#FFFFFF",
        )
        if window is None:
            raise BackendError("pywebview could not create a window")
        host.native = window
        before_show = self._attacher(host, hooks)
        window.events.initialized += self._initialized
        window.events.before_show += before_show
        window.events.closing += _closing(window, spec.label, hooks)
        window.events.closed += closed
        if threading.current_thread() is not threading.main_thread():
            # Once the GUI runs, pywebview builds a window asked for from another thread
            # at once, on the GUI thread: ``before_show`` may have fired before the
            # handlers above were added, leaving a page with no bridge. It fires on the
            # GUI thread, so a check there runs wholly before it (then the handler runs)
            # or wholly after it (then attach here, if the handler did not).
            def catch_up() -> None:
                if window.events.before_show.is_set():
                    before_show(window)

            self.call_soon(catch_up)

    def _initialized(self, renderer: str) -> bool:
        if renderer != self.renderer:
            self._refused.append(renderer)
            return False
        self._engine_ready()
        return True


def eval_poll_ms(elapsed: float) -> int:
    """How long ``--eval`` waits before it reads the page's result slot again, ``elapsed``
    seconds after the script started.

    Every read is a round trip into the page's main world, which competes with the
    page's own work: reading every 250 ms instead of every 20 ms raised a benchmark
    script's small-call rate x1.16 on Qt and x1.12 on GTK (interleaved A/B). Most
    scripts (tests) end within two seconds and are still seen within 20 ms; a longer
    one is read ten times a second.
    """
    return 20 if elapsed < 2.0 else 100


def close_forced(window: Any) -> None:
    """Close pywebview's ``window`` asking no ``close-requested`` handler (any thread)."""
    window.ramparts_forced_close = True  # read by ``_closing``, which destroy runs
    window.destroy()


def _closing(window: Any, label: str, hooks: PageHooks) -> Callable[[], bool]:
    """pywebview's ``closing`` handler (GUI thread, before the window goes; ``False``
    keeps it): a ``close-requested`` event, unless the close was forced; then
    ``hooks.closing`` if the window goes."""

    def closing() -> bool:
        forced = getattr(window, "ramparts_forced_close", False)
        ask = None if forced else hooks.events
        try:
            if ask is not None and ask(WindowEvent("close-requested", label)) is False:
                return False
        except Exception:  # a failing handler must not trap the user in the window
            log.exception("the close-requested handler of window %r failed", label)
        if hooks.closing is not None:
            try:
                hooks.closing()
            except Exception:
                log.exception("closing window %r failed", label)
        return True

    return closing
