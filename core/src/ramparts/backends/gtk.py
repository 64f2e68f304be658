"""The WebKitGTK backend (pywebview's ``gtk`` GUI on WebKitGTK 4.1).

Where it differs from Qt WebEngine, and why, is in docs/backends.md; the page's side
(scheme, navigation, scripts, channel, the engine's requests) is in
:mod:`ramparts.backends.gtk_page`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
gi.require_version("WebKit2", "4.1")
from gi.repository import Gdk, GLib, WebKit2  # noqa: E402

from ramparts.backends import Prune, Shipping  # noqa: E402
from ramparts.backends.chromium import allowed_hosts  # noqa: E402
from ramparts.backends.gtk_clipboard import GtkClipboard  # noqa: E402
from ramparts.backends.gtk_dialogs import GtkDialogs  # noqa: E402
from ramparts.backends.gtk_eval import start_eval  # noqa: E402
from ramparts.backends.gtk_menu import install_menus  # noqa: E402
from ramparts.backends.gtk_page import GtkPage  # noqa: E402
from ramparts.backends.gtk_window import GtkWindow, apply_spec, watch  # noqa: E402
from ramparts.backends.pywebview_windows import PageHooks, PywebviewBackend  # noqa: E402
from ramparts.bridge.host import WindowHost  # noqa: E402
from ramparts.errors import BackendError  # noqa: E402

if TYPE_CHECKING:
    from ramparts.bridge.session import WindowSession
    from ramparts.config import AppConfig

__all__ = ["GtkBackend"]

log = logging.getLogger("ramparts.gtk")

#: Where a connection to a host the CSP does not name goes: port 0 of the loopback
#: address, which refuses it at once, with no DNS query and no packet off the machine.
_BLACK_HOLE = "http://127.0.0.1:0"
#: The modifiers that make a key another key (not Num Lock, Caps Lock and the like).
_MODIFIERS = (
    Gdk.ModifierType.SHIFT_MASK
    | Gdk.ModifierType.CONTROL_MASK
    | Gdk.ModifierType.MOD1_MASK
    | Gdk.ModifierType.SUPER_MASK
)


def _on_gui(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on the GUI thread, wait for it, and return (or raise) its outcome."""
    if threading.current_thread() is threading.main_thread():
        return fn()
    done = threading.Event()
    outcome: list[tuple[bool, Any]] = []

    def run() -> bool:
        try:
            outcome.append((True, fn()))
        except BaseException as e:  # handed back to the calling thread
            outcome.append((False, e))
        finally:
            done.set()
        return False

    GLib.idle_add(run)
    done.wait()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def _view_of(window: Any) -> Any:
    """pywebview's WebKitWebView for ``window`` (``None`` once it has closed)."""
    from webview.platforms.gtk import BrowserView

    browser = BrowserView.instances.get(window.uid)
    return None if browser is None else browser.webview


class GtkBackend(PywebviewBackend):
    """The WebKitGTK backend: :class:`ramparts.backends.Backend` on pywebview's ``gtk``."""

    name = "gtk"
    gui = "gtk"
    renderer = "gtkwebkit2"
    engine = "WebKitGTK"
    #: Imported by name (pywebview's GUI module, the typelibs through gi): PyInstaller
    #: sees none of them. WebKitGTK's typelib and libraries do not ship: the built app
    #: loads the system's (gi searches the system's typelib folder after the bundle's),
    #: and its web and network processes are the system's. Qt never ships.
    shipping = Shipping(
        hidden_imports=(
            __name__,
            "ramparts.backends.gtk_page",
            "ramparts.backends.gtk_dialogs",
            "ramparts.backends.gtk_eval",
            "webview.platforms.gtk",
            "gi.repository.Gtk",
            "gi.repository.Gdk",
            "gi.repository.WebKit2",
            "gi.repository.Soup",
            "gi.repository.JavaScriptCore",
        ),
        # The engine comes from the distribution: its typelibs pull in WebKitGTK 4.1
        # (with bubblewrap and xdg-dbus-proxy for its sandbox) and GTK 3.
        debian_depends=("gir1.2-webkit2-4.1", "gir1.2-gtk-3.0"),
        prune=(
            Prune(
                "qt",
                "PyQt6 and qtpy, which pywebview may import: a GTK app runs WebKitGTK",
                modules=("PyQt6", "qtpy"),
            ),
            Prune(
                "system-libraries",
                "GTK, GLib, Pango, Cairo, Soup and the rest of the GTK stack, copies from "
                "the build machine: the system's WebKitGTK package depends on all of them, "
                "and WebKit's own processes inherit the app's library path, so the app "
                "and WebKit load one set, the system's. Python's own libraries stay",
                paths=("lib*.so*",),
                spare=(
                    "libpython3*",
                    "libssl.so.*",
                    "libcrypto.so.*",
                    "libffi.so.*",
                    "libz.so.*",
                    "libbz2.so.*",
                    "liblzma.so.*",
                    "libuuid.so.*",
                    "libgcc_s.so.*",
                    "libexpat.so.*",
                    "libmpdec.so.*",
                ),
                system=True,
            ),
            Prune(
                "gtk-data",
                "GTK's icons, translations, MIME database, schemas and themes: the system's "
                "GTK reads the system's (its translations only from there: on Linux their "
                "folder is compiled in)",
                paths=("share/**/*",),
            ),
            Prune(
                "typelibs",
                "GObject typelibs: WebKit's (never bundled) must match the GTK, GLib and "
                "Soup ones beside it, so all come from the system (gir1.2-webkit2-4.1 "
                "depends on the others)",
                paths=("gi_typelibs/*",),
            ),
        ),
    )

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the GUI thread after the calls already queued there (GLib runs
        idle callbacks of one priority in the order they were added)."""

        def run() -> bool:
            try:
                fn()
            except Exception:
                log.exception("error on the GUI thread")
            return False

        GLib.idle_add(run)

    def prepare(self, *, headless: bool, config: AppConfig) -> None:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            raise BackendError(
                "the GTK backend needs a display (GTK 3 has no offscreen mode): "
                "run under xvfb-run, or choose backend = 'qt'"
            )
        # The web processes run in bubblewrap; the 4.1 API leaves that off unless this
        # is set before the first web process starts (turning it on later aborts).
        os.environ["WEBKIT_FORCE_SANDBOX"] = "1"
        # The inspector's remote server would listen on this address.
        os.environ.pop("WEBKIT_INSPECTOR_SERVER", None)
        os.environ.pop("WEBKIT_INSPECTOR_HTTP_SERVER", None)
        os.environ.pop("SSLKEYLOGFILE", None)

    def reload_window(self, host: WindowHost) -> None:
        window = host.native
        if window is None:
            return

        def reload() -> None:
            view = _view_of(window)
            if view is not None:
                view.reload_bypass_cache()

        self.call_soon(reload)

    def dialogs(self, host: WindowHost, session: WindowSession) -> GtkDialogs | None:
        return GtkDialogs(host, session) if host.native is not None else None

    def clipboard(self, host: WindowHost) -> GtkClipboard | None:
        return GtkClipboard(host) if host.native is not None else None

    def _native_window(self, host: WindowHost) -> GtkWindow:
        return GtkWindow(host)

    def _attacher(self, host: WindowHost, hooks: PageHooks) -> Callable[[Any], None]:
        """``before_show`` for ``host``'s window: attach the page once, whoever calls first."""
        attached = False
        attach_lock = threading.Lock()

        def before_show(window: Any) -> None:  # pywebview passes it by this name
            nonlocal attached
            with attach_lock:
                if attached:
                    return
                attached = True
            page = self.attach(window, host, hooks)
            if hooks.spec is not None:
                apply_spec(host, hooks.spec)
            if hooks.events is not None:
                watch(host, hooks.events)
            pending = self._evals.pop(host, None)
            if pending is not None:
                start_eval(window, page.view, *pending)

        return before_show

    def attach(self, window: Any, host: WindowHost, hooks: PageHooks) -> GtkPage:
        from webview.platforms.gtk import BrowserView

        browser = BrowserView.instances[window.uid]
        view = browser.webview
        _undo_pywebview(browser, host)
        install_menus(browser.window, view, hooks.menus, hooks.devtools is not None)
        page = GtkPage(view, host)
        page.console = hooks.console
        page.attach()
        _confine(view, host)
        host._ui_caller = _on_gui
        if hooks.loaded is not None:
            _report_loads(view, hooks.loaded)
        if hooks.reload_keys:
            view.connect("key-press-event", _reload_key)
        if hooks.devtools is not None:
            _open_devtools(view, hooks.devtools)
        # pywebview loads its placeholder right after ``before_show``: load after it.
        GLib.idle_add(lambda: view.load_uri(host.start_url) and False)
        return page


def _undo_pywebview(browser: Any, host: WindowHost) -> None:
    """Take back what pywebview set up for its own bridge and features (GUI thread)."""
    view = browser.webview
    manager = view.get_user_content_manager()
    manager.disconnect_by_func(browser.on_js_bridge_call)
    manager.unregister_script_message_handler("jsBridge")  # window.webkit in the main world
    for handler in (browser.on_load_finish, browser.on_navigation, browser.on_request):
        view.disconnect_by_func(handler)
    view.disconnect_by_func(browser.on_drag_data)
    view.set_opacity(1.0)  # pywebview shows the view from its own load handler
    s = view.get_settings()
    web = host.web
    s.set_property("javascript-can-access-clipboard", "clipboard" in web)
    # navigator.clipboard ignores the setting above: WebKitGTK lets it write with no
    # gesture, and a read waits on a paste prompt that freezes the page. Without the
    # grant the API does not exist.
    _set_feature(s, "AsyncClipboardAPI", "clipboard" in web)
    s.set_property("javascript-can-open-windows-automatically", False)
    s.set_property("allow-file-access-from-file-urls", False)
    s.set_property("allow-universal-access-from-file-urls", False)
    s.set_property("enable-media-stream", bool({"camera", "microphone"} & web))
    s.set_property("enable-webrtc", "webrtc" in web)
    s.set_property("enable-fullscreen", "fullscreen" in web)
    s.set_property("enable-mediasource", True)  # playing media asks for no power
    # A page restored from the back/forward cache would come back without a new
    # session (no response to decide on): every history step loads afresh.
    s.set_property("enable-page-cache", False)
    s.set_property("enable-developer-extras", False)


def _set_feature(settings: Any, identifier: str, enabled: bool) -> None:
    """Turn one of WebKit's features (``webkit_settings_get_all_features``) on or off."""
    features = WebKit2.Settings.get_all_features()
    for i in range(features.get_length()):
        feature = features.get(i)
        if feature.get_identifier() == identifier:
            settings.set_feature_enabled(feature, enabled)
            return
    raise BackendError(f"this WebKitGTK has no feature {identifier!r} to turn off")


def _confine(view: Any, host: WindowHost) -> None:
    """Connections only to the hosts the CSP names: every other one goes to a proxy
    that refuses it (the CSP does not cover ``preconnect`` and the like)."""
    hosts = allowed_hosts(host.policy)
    if hosts is None:  # a source allows any host: nothing to name
        return
    settings = WebKit2.NetworkProxySettings.new(_BLACK_HOLE, list(hosts) or None)
    manager = view.get_context().get_website_data_manager()
    manager.set_network_proxy_settings(WebKit2.NetworkProxyMode.CUSTOM, settings)


def _report_loads(view: Any, loaded: Callable[[str], None]) -> None:
    """Call ``loaded`` with the page's URL each time a load has finished (not a failed one)."""
    failed = False

    def changed(view: Any, event: WebKit2.LoadEvent) -> None:
        nonlocal failed
        if event == WebKit2.LoadEvent.STARTED:
            failed = False
        elif event == WebKit2.LoadEvent.FINISHED and not failed:
            loaded(view.get_uri() or "")

    def load_failed(*_: Any) -> bool:
        nonlocal failed
        failed = True
        return False

    view.connect("load-changed", changed)
    view.connect("load-failed", load_failed)


def _reload_key(view: Any, event: Any) -> bool:
    """F5 and Ctrl+R reload the page, which never sees those keys (``ramparts dev`` only)."""
    mods = event.state & _MODIFIERS
    key = event.keyval
    if not (key == Gdk.KEY_F5 and not mods) and not (
        key in (Gdk.KEY_r, Gdk.KEY_R) and mods == Gdk.ModifierType.CONTROL_MASK
    ):
        return False
    view.reload_bypass_cache()
    return True


def _open_devtools(view: Any, loaded: Callable[[str], None]) -> None:
    """WebKit's inspector for the page in a window of its own (``ramparts dev`` only).

    The inspector runs in this process and talks to the page over WebKit's own IPC: no
    port is opened (the remote inspector's variables are cleared in ``prepare``).
    """
    view.get_settings().set_property("enable-developer-extras", True)
    inspector = view.get_inspector()
    reported = False

    def shown(*_: Any) -> bool:
        nonlocal reported
        if not reported:
            reported = True
            loaded(inspector.get_inspected_uri() or "inspector://")
        return False

    inspector.connect("open-window", shown)
    inspector.connect("attach", shown)
    inspector.detach()
    inspector.show()
