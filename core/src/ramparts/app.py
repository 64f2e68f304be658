"""An app: config + capabilities + commands, and running it in a window."""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from ramparts.backends.chromium import confine
from ramparts.bridge.host import WindowHost
from ramparts.bridge.session import Registry, WindowSession
from ramparts.capability import Capability
from ramparts.config import AppConfig, WindowConfig, load_config
from ramparts.errors import BackendError
from ramparts.plugins import build_registry, load_capabilities, make_plugin_manager

if TYPE_CHECKING:
    from ramparts.bridge.dispatch import Dispatcher

__all__ = ["App", "EvalResult"]

log = logging.getLogger("ramparts.app")


@attrs.define
class EvalResult:
    ok: bool
    value: Any = None  # the JSON text the page's promise resolved to
    error: str | None = None
    timed_out: bool = False


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
        self._refused: list[str] = []
        self._backend: Any = None
        self._dispatcher: Any = None
        self._trace: Callable[[str], None] | None = None
        #: Set just before the GUI loop starts (it runs on the main thread until exit).
        self._gui_running = False

    @classmethod
    def load(cls, app_dir: Path | str) -> App:
        config = load_config(app_dir)
        pm = make_plugin_manager()
        capabilities = load_capabilities(config, pm)
        registry = build_registry(config, capabilities)
        return cls(config, pm, capabilities, registry)

    # -- running ------------------------------------------------------------------------

    def run(
        self,
        *,
        headless: bool = False,
        eval_js: str | None = None,
        timeout: float = 30.0,
        trace: Callable[[str], None] | None = None,
    ) -> EvalResult | None:
        """Open the app's start windows and run until they close (or ``eval_js`` settles).

        :param headless: no screen: Qt's offscreen platform.
        :param eval_js: the body of an async function to run as a page script in the
            main window once its page has loaded; the app exits when its promise settles.
        :param timeout: seconds ``eval_js`` may take.
        :param trace: called with a line for every page console message and bridge call.
        :return: the eval result when ``eval_js`` was given.
        """
        _prepare_environment(headless, self.config)
        from ramparts.backends import get_backend

        self._backend = get_backend()
        self._backend.prepare()
        import webview

        cfg = self.config
        self._trace = trace
        from ramparts.bridge.dispatch import (
            Dispatcher,  # asyncio and threads: only when an app runs
        )

        self._dispatcher = Dispatcher(cfg.security.command_timeout)
        if trace is not None:
            self._dispatcher.on_call = lambda window, name, outcome, ms: trace(
                f"bridge: {window}: {name} -> {outcome} ({ms:.1f} ms)"
            )
        result = EvalResult(ok=False) if eval_js is not None else None
        for spec in cfg.windows:
            if spec.start:
                main = spec is cfg.windows[0]
                self._open(spec, eval_js if main else None, timeout, result if main else None)
        try:
            self._gui_running = True
            webview.start(gui="qt", private_mode=True)
        finally:
            self._gui_running = False
            for host in list(self.hosts.values()):
                host.end()
            self.hosts.clear()
            self._dispatcher.close()
        if self._refused:
            raise BackendError(
                f"Ramparts needs the Qt WebEngine backend; pywebview chose {self._refused[0]!r}. "
                "Refusing to start without the secured bridge."
            )
        return result

    def open_window(self, label: str) -> None:
        """Open the window ``label`` from ``[[tool.ramparts.windows]]`` (any thread).

        An already open window is shown and raised instead. On the GUI thread, once the
        app runs, the window opens just after this returns (pywebview builds it from
        another thread); an error there is logged, not raised.

        :raises KeyError: no window has that label.
        """
        spec = self.config.window_named(label)
        if spec is None:
            raise KeyError(label)
        if self._gui_running and threading.current_thread() is threading.main_thread():
            # On the GUI thread (a Qt callback), pywebview only queues a new window for a
            # start() that has already happened: ask from another thread, which it builds
            # at once (on the GUI thread, after this callback returns).
            def open_logged() -> None:
                try:
                    self.open_window(label)
                except Exception:
                    log.exception("opening window %r failed", label)

            threading.Thread(target=open_logged, name="ramparts-open", daemon=True).start()
            return
        with self._lock:
            host = self.hosts.get(label)
            if host is None:
                self._open(spec, None, 0.0, None)
                return
        if host.native is not None:
            host.native.show()

    def close_window(self, label: str) -> None:
        """Close the window ``label`` if it is open (any thread)."""
        host = self.hosts.get(label)
        if host is not None and host.native is not None:
            host.native.destroy()

    def emit(self, event: str, payload: Any = None, *, window: str | None = None) -> None:
        """Send an event to every open window's page, or only to ``window``."""
        for label, host in list(self.hosts.items()):
            if (window is None or window == label) and host.session is not None:
                host.session.emit(event, payload)

    def _open(
        self, spec: WindowConfig, eval_js: str | None, timeout: float, result: EvalResult | None
    ) -> WindowHost:
        import webview

        cfg = self.config
        backend = self._backend
        trace = self._trace
        host = self.make_host(spec, self._dispatcher)
        self.hosts[spec.label] = host
        window = webview.create_window(
            spec.title, html=" ", width=spec.width, height=spec.height, resizable=spec.resizable
        )
        if window is None:
            raise BackendError("pywebview could not create a window")
        host.native = window

        def initialized(renderer: str) -> bool:
            if renderer != backend.renderer:
                self._refused.append(renderer)
                return False
            # pywebview has loaded its GUI module but built no window yet.
            backend.start_engine()
            return True

        attached = False
        attach_lock = threading.Lock()

        def before_show(window: Any) -> None:  # pywebview passes it by this name
            nonlocal attached
            with attach_lock:  # exactly once: see the catch-up below
                if attached:
                    return
                attached = True
            page = backend.attach(window, host)
            if trace is not None:
                page.console.connect(lambda line: trace(f"console: {spec.label}: {line}"))
            if eval_js is not None and result is not None:
                _start_eval(window, page, eval_js, timeout, result)

        def closed() -> None:
            host.end()
            with self._lock:
                if self.hosts.get(spec.label) is host:
                    del self.hosts[spec.label]
                others = list(self.hosts.values())
            if spec is cfg.windows[0]:  # the main window takes the others with it
                for other in others:
                    if other.native is not None:
                        other.native.destroy()

        window.events.initialized += initialized
        window.events.before_show += before_show
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

            backend.call_soon(catch_up)
        return host

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
        )

    def _session_changed(self, old: WindowSession | None, new: WindowSession | None) -> None:
        if old is not None:
            self.pm.hook.ramparts_session_ended(session=old)
        if new is not None:
            _keylog(new)
            self.pm.hook.ramparts_session_started(session=new)


def _prepare_environment(headless: bool, config: AppConfig) -> None:
    no_screen = not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")
    if headless or no_screen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    if os.name == "posix" and os.geteuid() == 0:
        # Chromium's sandbox refuses to run as root.
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
    # Never let a debugging port open: that would be a TCP door into the page (DevTools
    # runs any script there, unauthenticated). Qt takes one from this variable, from
    # Chromium switches in QTWEBENGINE_CHROMIUM_FLAGS, and from the QApplication's
    # arguments (pywebview passes sys.argv: think of a file name given to the app).
    os.environ.pop("QTWEBENGINE_REMOTE_DEBUGGING", None)
    # Nor let a switch approve the page's permission requests without the app's config
    # (the backend answers each one). pywebview adds one per window later, which the
    # backend keeps from taking effect (QtBackend.start_engine).
    # ``confine`` reads the variable the way Qt does (a double quote anywhere is dropped,
    # so ``"--remote-debugging-port=1"`` is that switch) and quotes what it returns:
    # the check sees each switch as Qt will.
    flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "").split()
    flags = confine(flags, config.security.csp, {p for w in config.windows for p in w.web})
    flags = [f for f in flags if not _refused_switch(f.replace('"', ""))]
    for flag in ("--disable-background-networking", "--disable-component-update"):
        if flag not in flags:
            flags.append(flag)
    os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = " ".join(flags)
    # Chromium writes the TLS secrets of the page's connections to this file; the
    # environment must not decide who can read the page's traffic.
    os.environ.pop("SSLKEYLOGFILE", None)
    sys.argv[1:] = [a for a in sys.argv[1:] if not _refused_switch(a)]


#: Chromium switches that approve permission requests (or pick what a capture shares)
#: with nobody asked: ``--use-fake-ui-for-media-stream``,
#: ``--auto-accept-camera-and-microphone-capture``, ``--auto-select-desktop-capture-source``...
_AUTO_APPROVE = ("use-fake-ui-for", "auto-accept", "auto-select", "auto-grant")


def _refused_switch(arg: str) -> bool:
    """A debugging switch (``--remote-debugging-port=...``, ``-remote-debugging-pipe``)
    or one that approves permission requests by itself."""
    name = arg.lstrip("-/").lower()
    return name.startswith("remote-debugging") or name.startswith(_AUTO_APPROVE)


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


def _start_eval(win: Any, page: Any, source: str, timeout: float, result: EvalResult) -> None:
    from importlib.resources import files

    from PyQt6.QtCore import QTimer

    slot = "__ramparts_eval_" + secrets.token_hex(8)
    wrapper = (
        (files("ramparts.bridge") / "js" / "eval.js")
        .read_text(encoding="utf-8")
        .replace("__RAMPARTS_SLOT__", json.dumps(slot))
        .replace("__RAMPARTS_SOURCE__", source)
    )
    deadline = float("inf")  # set when the page has loaded
    started = False
    timer = QTimer(page)

    def finish() -> None:
        timer.stop()
        win.destroy()

    def check(value: Any) -> None:
        data = json.loads(value) if isinstance(value, str) else None
        if data:
            result.ok = data["ok"]
            result.value = data.get("value")
            result.error = data.get("error")
            finish()
        elif time.monotonic() > deadline:
            result.timed_out = True
            result.error = f"the script did not settle within {timeout:g} s"
            finish()

    def poll() -> None:
        page.runJavaScript(f"JSON.stringify(window[{json.dumps(slot)}] || null)", 0, check)

    def loaded(ok: bool) -> None:
        nonlocal started, deadline
        if started:
            return
        started = True
        deadline = time.monotonic() + timeout

        def ran(value: Any) -> None:
            if value != "started":
                result.error = "the script did not start (a syntax error? see the console lines)"
                finish()

        page.runJavaScript(wrapper, 0, ran)
        timer.timeout.connect(poll)
        timer.start(20)

    page.loadFinished.connect(loaded)

    def load_timeout() -> None:
        if not started:
            result.timed_out = True
            result.error = "the page did not load"
            finish()

    QTimer.singleShot(int(timeout * 1000) + 2000, load_timeout)
