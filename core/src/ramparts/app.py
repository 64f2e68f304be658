"""An app: config + capabilities + commands, and running it in a window.

Internal: apps are run by ``ramparts dev`` and a built app's launcher; commands reach
the running app through ``ctx.app``.
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from ramparts.backends import (
    Backend,
    EvalResult,
    NativeClipboard,
    NativeDialogs,
    WindowEvent,
    WindowMenus,
    WindowState,
    get_backend,
)
from ramparts.bridge.host import WindowHost
from ramparts.bridge.session import Registry, WindowSession
from ramparts.capability import Capability
from ramparts.config import AppConfig, WindowConfig, check_ui_folder, load_config
from ramparts.desktop.menus import PAGE_EVENT, MenuEvent, MenuEventHandler, MenuEvents, app_menus
from ramparts.desktop.menus import handlers_in as menu_handlers_in
from ramparts.desktop.single_instance import (
    EVENT,
    SecondInstance,
    SecondInstanceHandler,
    handlers_in,
)
from ramparts.desktop.windows import (
    Window,
    WindowClosed,
    WindowEventHandler,
    WindowEvents,
    event_handlers_in,
    is_normal,
    load_state,
    page_events,
    restored,
    save_state,
    state_file,
)
from ramparts.dev.server import dev_config
from ramparts.errors import ConfigError
from ramparts.plugins import build_registry, load_capabilities, make_plugin_manager

if TYPE_CHECKING:
    from ramparts.bridge.dispatch import Dispatcher

__all__ = ["App", "EvalResult"]

log = logging.getLogger("ramparts.app")


class App:
    """A loaded app, ready to run. Loading imports only the declared capabilities.

    :ivar config: the validated ``[tool.ramparts]`` config.
    :ivar capabilities: the loaded capability plugins, by name.
    :ivar registry: every command the page may call.
    """

    def __init__(
        self,
        config: AppConfig,
        pm: pluggy.PluginManager,
        capabilities: dict[str, Capability],
        registry: Registry,
    ) -> None:
        self.config = config
        self.pm = pm
        self.capabilities = capabilities
        self.registry = registry
        #: Open windows by label.
        self.hosts: dict[str, WindowHost] = {}
        self._lock = threading.Lock()
        self._backend: Backend | None = None
        self._dispatcher: Any = None
        self._trace: Callable[[str], None] | None = None
        self._page_errors: Callable[[str], None] | None = None
        self._devtools: Callable[[str], None] | None = None
        self._loaded: Callable[[str], None] | None = None
        self._started = False  # a page has loaded (see _page_loaded)
        self._reload_keys = False
        #: The dev server the pages come from (``App.load(dev=True)``), else ``None``.
        self.dev_url: str | None = None
        #: The ``@on_second_instance`` functions of the app's commands module.
        self.second_instance_handlers: tuple[SecondInstanceHandler, ...] = ()
        #: The ``@on_window_event`` functions of the app's commands module.
        self.window_event_handlers: tuple[WindowEventHandler, ...] = ()
        self._window_events: WindowEvents | None = None
        #: The last normal state of each ``remember_state`` window (see ``_watch_normal``).
        self._normal: dict[str, WindowState] = {}
        #: The ``@on_menu`` functions of the app's commands module.
        self.menu_handlers: tuple[MenuEventHandler, ...] = ()
        #: The menus every window gets: the config's, or ``@build_menus``'s.
        self.menus = config.menus
        self._menu_events: MenuEvents | None = None
        #: Where ``remember_state`` windows keep their state (``$APPDATA``).
        self.state_file = state_file(config.identifier, config.ui)

    @classmethod
    def load(cls, app_dir: Path | str, *, dev: bool = False) -> App:
        """Load the app in ``app_dir``.

        :param dev: serve the pages from ``[tool.ramparts.dev] url`` when the config
            has one (``ramparts dev``), with the dev CSP. Otherwise they come from the
            ``ui`` folder, which must exist.
        """
        config = load_config(app_dir)
        dev_url = config.dev.url if dev else None
        if dev_url is not None:
            config = dev_config(config)
        elif config.dev.url is not None:
            check_ui_folder(config)
        pm = make_plugin_manager()
        capabilities = load_capabilities(config, pm)
        registry = build_registry(config, capabilities)
        the_app = cls(config, pm, capabilities, registry)
        the_app.dev_url = dev_url
        the_app.second_instance_handlers = _second_instance_handlers(config)
        commands = importlib.import_module(config.commands) if config.commands else None
        if commands is not None:  # loaded already
            the_app.window_event_handlers = event_handlers_in(commands)
            the_app.menu_handlers = menu_handlers_in(commands)
        the_app.menus = app_menus(config, commands)
        return the_app

    # -- running ------------------------------------------------------------------------

    def run(
        self,
        *,
        headless: bool = False,
        eval_js: str | None = None,
        timeout: float = 30.0,
        trace: Callable[[str], None] | None = None,
        page_errors: Callable[[str], None] | None = None,
        devtools: Callable[[str], None] | None = None,
        loaded: Callable[[str], None] | None = None,
        reload_keys: bool = False,
    ) -> EvalResult | None:
        """Open the app's start windows and run until they close (or ``eval_js`` settles).

        :param headless: no screen: the backend's offscreen platform.
        :param eval_js: the body of an async function to run as a page script in the
            main window once its page has loaded; the app exits when its promise settles.
        :param timeout: seconds ``eval_js`` may take.
        :param trace: called with a line for every page console message and bridge call.
        :param page_errors: called with a line for every page error (an uncaught
            exception or ``console.error``) and warning; ``ramparts dev`` prints them.
        :param devtools: give each window the engine's inspector in a window of its
            own (``ramparts dev --devtools``); called with a line once it has loaded.
        :param loaded: called with ``ramparts: window '<label>' loaded <url>`` each time
            a window's page has finished loading (``ramparts dev``'s readiness line).
        :param reload_keys: F5 and Ctrl+R reload the page (``ramparts dev`` only).
        :return: the eval result when ``eval_js`` was given.
        """
        cfg = self.config
        self._backend = backend = get_backend(cfg.backend)
        backend.prepare(headless=headless, config=cfg)
        self._trace = trace
        self._page_errors = page_errors
        self._devtools = devtools
        self._loaded = loaded
        self._reload_keys = reload_keys
        from ramparts.bridge.dispatch import (
            Dispatcher,  # asyncio and threads: only when an app runs
        )

        self._dispatcher = Dispatcher(cfg.security.command_timeout)
        if trace is not None:
            self._dispatcher.on_call = lambda window, name, outcome, ms: trace(
                f"bridge: {window}: {name} -> {outcome} ({ms:.1f} ms)"
            )
        result = EvalResult(ok=False) if eval_js is not None else None
        self._start_events()
        for spec in cfg.windows:
            if spec.start:
                host = self._open(spec)
                if eval_js is not None and spec is cfg.windows[0]:
                    result = backend.evaluate(host, eval_js, timeout)
        try:
            backend.run()
        finally:
            for host in list(self.hosts.values()):
                host.end()
            self.hosts.clear()
            self._dispatcher.close()
        return result

    def open_window(self, label: str) -> None:
        """Open the window ``label`` from ``[[tool.ramparts.windows]]`` (any thread).

        An already open window is shown and raised instead. On the GUI thread, once the
        app runs, the window opens just after this returns (the backend builds it from
        another thread); an error there is logged, not raised.

        :raises KeyError: no window has that label.
        """
        spec = self.config.window_named(label)
        if spec is None:
            raise KeyError(label)
        with self._lock:
            host = self.hosts.get(label)
            if host is None:
                self._open(spec)
                return
        self._running_backend().show_window(host)

    def close_window(self, label: str, *, force: bool = False) -> None:
        """Ask the window ``label`` to close if it is open (any thread): its
        ``@on_window_event`` handlers may keep it open, unless ``force``."""
        host = self.hosts.get(label)
        if host is not None:
            self._running_backend().close_window(host, force=force)

    def window(self, label: str) -> Window:
        """Control the window ``label`` of the config from any thread: its title, size,
        position, state and visibility (docs/capabilities/window.md).

        :raises KeyError: no window has that label.
        """
        if self.config.window_named(label) is None:
            raise KeyError(label)

        def native() -> Any:
            host = self.hosts.get(label)
            if host is None or self._backend is None:
                return None
            return self._backend.window(host)

        return Window(label, native, lambda force: self.close_window(label, force=force))

    def reload_window(self, label: str) -> None:
        """Reload the page of the window ``label`` if it is open (any thread), as F5
        would: the page loads again and gets a new bridge session (the old one ends)."""
        host = self.hosts.get(label)
        if host is not None:
            self._running_backend().reload_window(host)

    def emit(self, event: str, payload: Any = None, *, window: str | None = None) -> None:
        """Send an event to every open window's page, or only to ``window``."""
        for label, host in list(self.hosts.items()):
            if (window is None or window == label) and host.session is not None:
                host.session.emit(event, payload)

    def second_instance(self, instance: SecondInstance) -> None:
        """The app was started again (``single_instance``): send ``instance`` to the
        pages of the windows the config grants it, then call the handlers in turn."""
        granted = self.config.single_instance
        for label in granted.windows if granted is not None else ():
            self.emit(EVENT, instance.to_json(), window=label)
        for handler in self.second_instance_handlers:
            try:
                handler(self, instance)
            except Exception:
                log.exception("the second instance handler %s failed", handler.__qualname__)

    def native_dialogs(self, session: WindowSession) -> NativeDialogs | None:
        """The backend's dialogs, modal to ``session``'s window and closed when its page
        goes; ``None`` when the window has no webview (not running, or
        :mod:`ramparts.testing`). Plugins reach it through ``ctx.native_dialogs()``."""
        host = session.host
        if self._backend is None or host is None:
            return None
        return self._backend.dialogs(host, session)

    def native_clipboard(self, session: WindowSession) -> NativeClipboard | None:
        """The backend's clipboard, through ``session``'s window; ``None`` when the window
        has no webview (not running, or :mod:`ramparts.testing`). Plugins reach it
        through ``ctx.native_clipboard()``."""
        host = session.host
        if self._backend is None or host is None:
            return None
        return self._backend.clipboard(host)

    def _event_to_page(self, event: WindowEvent) -> None:
        """Send ``event`` to its window's page if that window has the ``window``
        capability and its ``events`` grant this kind."""
        spec = self.config.window_named(event.window)
        granted = spec is not None and "window" in spec.capabilities
        if granted and event.kind in page_events(self.config):
            self.emit(f"ramparts:window-{event.kind}", event.to_json(), window=event.window)

    def _start_events(self) -> None:
        """Where the windows' and menus' events go, for the windows about to open."""
        self._window_events = WindowEvents(self, self.window_event_handlers, self._event_to_page)
        self._menu_events = MenuEvents(self, self.menu_handlers, self._menu_to_page)

    def _menu_to_page(self, event: MenuEvent) -> None:
        """Send ``event`` to its window's page if that window's ``menu_events`` name
        the item."""
        spec = self.config.window_named(event.window)
        if spec is not None and event.id in spec.menu_events:
            self.emit(PAGE_EVENT, event.to_json(), window=event.window)

    def _menus(self, label: str) -> WindowMenus:
        events = self._menu_events

        def chosen(item_id: str, menu: str) -> None:
            if events is not None:
                events(MenuEvent(item_id, label, menu))

        return WindowMenus(self.menus.menu, self.menus.context_menu, chosen)

    def _remember(self, label: str) -> None:
        """Save the state of ``label``'s window (as it goes) if its config says
        ``remember_state``."""
        spec = self.config.window_named(label)
        if spec is None or not spec.remember_state:
            return
        try:
            state = self.window(label).state()
        except WindowClosed:
            return
        save_state(self.state_file, label, state, self._normal.get(label))

    def _watch_normal(
        self, spec: WindowConfig, events: WindowEvents | None
    ) -> Callable[[WindowEvent], bool] | None:
        """``events``, noting the window's state at each resize or move while it is
        normal: a maximize or fullscreen replaces the size by the time it closes."""
        if events is None or not spec.remember_state:
            return events

        def noted(event: WindowEvent) -> bool:
            if event.kind in ("resized", "moved"):  # on the GUI thread: read at once
                try:
                    state = self.window(spec.label).state()
                except WindowClosed:
                    state = None
                if state is not None and is_normal(state):
                    self._normal[spec.label] = state
            return events(event)

        return noted

    def _running_backend(self) -> Backend:
        if self._backend is None:
            raise RuntimeError("the app is not running: it has no windows")
        return self._backend

    def _open(self, spec: WindowConfig) -> WindowHost:
        backend = self._running_backend()
        if spec.remember_state:
            saved = load_state(self.state_file).get(spec.label)
            spec = restored(spec, saved, self.state_file)
        host = self.make_host(spec, self._dispatcher)
        self.hosts[spec.label] = host
        trace, page_errors, devtools = self._trace, self._page_errors, self._devtools

        def console(level: str, line: str) -> None:
            if trace is not None:
                trace(f"console: {spec.label}: {line}")
            elif page_errors is not None and level != "info":
                page_errors(f"page {level}: {line}")

        def closed() -> None:
            host.end()
            with self._lock:
                if self.hosts.get(spec.label) is host:
                    del self.hosts[spec.label]
                others = list(self.hosts.values())
            if spec.label == self.config.windows[0].label:  # the main window takes the others
                for other in others:
                    backend.close_window(other, force=True)

        backend.open_window(
            host,
            spec,
            closed=closed,
            console=console if trace is not None or page_errors is not None else None,
            devtools=(
                (lambda url: devtools(f"ramparts dev: devtools: {spec.label}: {url}"))
                if devtools is not None
                else None
            ),
            loaded=lambda url: self._page_loaded(spec.label, url),
            reload_keys=self._reload_keys,
            events=self._watch_normal(spec, self._window_events),
            closing=lambda: self._remember(spec.label),
            menus=self._menus(spec.label),
        )
        return host

    def _page_loaded(self, label: str, url: str) -> None:
        """A window's page has loaded (GUI thread). The first time, start-up is over:
        its objects (modules, classes, the toolkit's wrappers), which live as long as
        the app, go to the collector's permanent generation (``gc.freeze``), so that
        the collections a large message's objects set off no longer scan them all
        (a 1 MB JSON call: ~10 ms less per call, benchmarks/README.md)."""
        if not self._started:
            self._started = True
            gc.freeze()
        if self._loaded is not None:
            self._loaded(f"ramparts: window '{label}' loaded {url}")

    def make_host(self, spec: WindowConfig, dispatcher: Dispatcher) -> WindowHost:
        """The policy side of window ``spec``: its routes, CSP and sessions, no webview.

        ``run`` attaches a webview to it; :mod:`ramparts.testing` drives it directly.
        """
        cfg = self.config
        return WindowHost(
            label=spec.label,
            identifier=cfg.identifier,
            ui=cfg.ui,
            entry=spec.entry,
            csp=dict(cfg.security.csp),
            registry=self.registry.for_window(spec.capabilities, spec.app_commands),
            dispatcher=dispatcher,
            handle_mode=cfg.security.handles,
            on_session=self._session_changed,
            app=self,
            web=spec.web,
            dev_url=self.dev_url,
        )

    def _session_changed(self, old: WindowSession | None, new: WindowSession | None) -> None:
        if old is not None:
            self.pm.hook.ramparts_session_ended(session=old)
        if new is not None:
            _keylog(new)
            self.pm.hook.ramparts_session_started(session=new)


def _second_instance_handlers(config: AppConfig) -> tuple[SecondInstanceHandler, ...]:
    """The app's ``@on_second_instance`` functions; one without ``single_instance`` on
    is a config error, as an ``@on`` handler of an undeclared event is."""
    if config.commands is None:
        return ()
    handlers = handlers_in(importlib.import_module(config.commands))  # loaded already
    if handlers and config.single_instance is None:
        raise ConfigError(
            config.file,
            "tool.ramparts.single_instance",
            False,
            f"true ({handlers[0].__qualname__} in {config.commands} handles second instances)",
        )
    return handlers


def _keylog(session: WindowSession) -> None:
    """``RAMPARTS_KEYLOG=FILE``: append session keys, like SSLKEYLOGFILE. Debug and tests only.

    Whoever reads the file can sign calls, so it is the user's own (mode 0600, never
    through a symlink), and a built app ignores the variable: a shipped app must not
    hand its keys to anyone who can set its environment.
    """
    path = os.environ.get("RAMPARTS_KEYLOG")
    if not path:
        return
    if getattr(sys, "frozen", False):
        log.warning("RAMPARTS_KEYLOG is ignored in a built app (it is for tests and debugging)")
        return
    line = {
        "window": session.window,
        "session": session.id,
        "key": session.key.hex(),
        "handles": session.initial_handles,
    }
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as e:
        log.warning("RAMPARTS_KEYLOG: cannot open %s (a symlink is refused): %s", path, e)
        return
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        if os.name == "posix":
            st = os.fstat(fd)
            if st.st_uid != os.getuid():
                log.warning("RAMPARTS_KEYLOG: %s belongs to another user; not written", path)
                return
            if st.st_mode & 0o077:  # a file made earlier by something else: tighten it
                os.fchmod(fd, 0o600)
        f.write(json.dumps(line) + "\n")
