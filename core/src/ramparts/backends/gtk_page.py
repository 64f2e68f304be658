"""Internal. One window's page on WebKitGTK: scheme, navigation, scripts, channel, requests.

Where WebKitGTK reports less than Qt WebEngine, the substitutes are (docs/backends.md):

* **Main frame at request time.** A navigation request does not say which frame it is
  for. It is answered in two steps: at the request, a URL that the host would refuse
  even for the main frame is refused (no frame may leave the app); an app URL goes on.
  At the response, which says whether it is the main frame's main resource, the host
  decides for real: a subframe is refused before its document exists, and a main-frame
  load gets its new session and its scripts before its document exists.
* **Frame tree.** The relay's world walks the page's frames on each message, and again
  before each binary message and permission answer: a child frame whose ``location`` it
  can read shares the page's origin (a cross-origin one throws).
* **Initiator.** A scheme request has none: the ``Origin`` header stands for it (the
  engine sets it on every cross-origin request), and without one the request is
  same-origin, so its origin is the requested URL's.
* **Console.** There is no console signal: the relay's world reports uncaught errors
  and unhandled rejections (their events reach every world), and a main-world script
  reports ``console.error``, ``warn``, ``log`` and ``info`` to it under a name only the
  two know.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
gi.require_version("WebKit2", "4.1")
gi.require_version("Soup", "3.0")
gi.require_version("JavaScriptCore", "4.1")
from gi.repository import Gdk, Gio, GLib, Gtk, Soup, WebKit2  # noqa: E402

from ramparts.backends.gtk_dialogs import choose_files  # noqa: E402
from ramparts.bridge.host import IPC_PATH, SCHEME, WindowHost  # noqa: E402
from ramparts.bridge.protocol import MAX_BINARY_MESSAGE  # noqa: E402

__all__ = ["GtkPage"]

log = logging.getLogger("ramparts.gtk")

#: The isolated world the relay lives in, and its message handlers there.
WORLD = "ramparts-relay"
_CHANNEL = "ramparts"
_CONSOLE = "ramparts-console"
_CLOCK = "ramparts-clock"
#: The longest wake-up the bootstrap asks for (setTimeout's limit, as its own cap).
_MAX_WAKE_MS = 0x7FFFFFFF

#: Is there a child frame, at any depth, that shares the page's origin? (relay world)
_FRAMES_JS = """(() => {
  const walk = (w) => {
    for (let i = 0; i < w.length; i++) {
      const f = w[i];
      try { void f.location.href; return true; } catch (e) { /* another origin */ }
      if (walk(f)) return true;
    }
    return false;
  };
  return walk(window);
})()"""

#: The QWebChannel interface relay.js expects, over WebKit's script message handler in
#: the relay's world (page scripts see neither). Each message goes with "1" or "0":
#: whether the page then held a same-origin frame. ``wake`` passes the bootstrap's
#: deadline wake-ups to Python (see ``GtkPage._wake``).
_CHANNEL_JS = """const qt = { webChannelTransport: null };
const __rampartsFrames = () => __FRAMES__;
const __rampartsListeners = [];
function __rampartsDeliver(text) { for (const fn of __rampartsListeners) fn(text); }
function QWebChannel(_transport, ready) {
  const handler = window.webkit.messageHandlers[__CHANNEL__];
  const bridge = {
    deliver: { connect: (fn) => { __rampartsListeners.push(fn); } },
    set inbox(text) { handler.postMessage((__rampartsFrames() ? "1" : "0") + text); },
    wake: (text) => window.webkit.messageHandlers[__CLOCK__].postMessage(text),
  };
  // After the main world's bootstrap has run (this world's scripts run first), as
  // QWebChannel's own asynchronous start would.
  setTimeout(() => ready({ objects: { __OBJECT__: bridge } }), 0);
}
(() => {
  const report = window.webkit.messageHandlers[__CONSOLE__];
  const line = (level, text) => report.postMessage(JSON.stringify([level, String(text)]));
  window.addEventListener("error", (ev) => {
    line("error", `Uncaught ${ev.message} (${ev.filename}:${ev.lineno})`);
  });
  window.addEventListener("unhandledrejection", (ev) => {
    line("error", "Uncaught (in promise) " + String(ev.reason));
  });
  document.addEventListener(__CONSOLE_EVENT__, (ev) => {
    if (Array.isArray(ev.detail)) line(String(ev.detail[0]), ev.detail[1]);
  });
})();
"""

#: Main world: the console's messages, handed to the relay's world. A page can replace
#: these wrappers, which only hides its own messages from the developer.
_CONSOLE_JS = """(() => {
  const name = __CONSOLE_EVENT__;
  const doc = document, dispatch = EventTarget.prototype.dispatchEvent;
  const Ev = CustomEvent, S = String, E = Error, join = Array.prototype.join;
  // The caller's " (url:line)", as Qt reports it: the first stack frame that is not
  // one of the injected scripts' ("name@url:line:column" in JavaScriptCore).
  const where = () => {
    for (const frame of S(new E().stack).split("\\n")) {
      const at = frame.slice(frame.lastIndexOf("@") + 1);
      if (at && !at.startsWith("user-script:")) return ` (${at.replace(/:\\d+$/, "")})`;
    }
    return "";
  };
  const methods = [["error", "error"], ["warn", "warning"], ["log", "info"], ["info", "info"]];
  for (const [method, level] of methods) {
    const original = console[method];
    console[method] = function (...args) {
      const text = join.call(args.map((a) => S(a)), " ") + where();
      dispatch.call(doc, new Ev(name, { detail: [level, text] }));
      return original.apply(this, args);
    };
  }
})();
"""

_USER_MEDIA: tuple[tuple[str, str], ...] = (
    ("is-for-audio-device", "microphone"),
    ("is-for-video-device", "camera"),
)
#: The ``web`` names each engine permission request needs, all of them. A type missing
#: here (device info, media keys, website data access, ...) is always refused.
_PERMISSION_NAMES: dict[type, tuple[str, ...]] = {
    WebKit2.GeolocationPermissionRequest: ("geolocation",),
    WebKit2.NotificationPermissionRequest: ("notifications",),
    WebKit2.PointerLockPermissionRequest: ("pointer-lock",),
    WebKit2.ClipboardPermissionRequest: ("clipboard",),
}


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _fail(request: WebKit2.URISchemeRequest, why: str) -> None:
    """A network error, as a file that is not there is on Qt."""
    request.finish_error(GLib.Error.new_literal(Gio.io_error_quark(), why, 14))


def _refuse(request: WebKit2.URISchemeRequest) -> None:
    """403 with no body, as Qt answers a refused bridge message."""
    _finish(request, b"", "application/octet-stream", {}, 403)


def _finish(
    request: WebKit2.URISchemeRequest, data: bytes, mime: str, headers: Any, status: int = 200
) -> None:
    stream = Gio.MemoryInputStream.new_from_bytes(GLib.Bytes.new(data))
    response = WebKit2.URISchemeResponse.new(stream, len(data))
    response.set_status(status, None)
    # Both, or the engine either fails the load or (nosniff) refuses the scripts.
    response.set_content_type(mime)
    soup = Soup.MessageHeaders.new(Soup.MessageHeadersType.RESPONSE)
    for name, value in {**headers, "Content-Type": mime}.items():
        soup.replace(name, value)
    response.set_http_headers(soup)
    request.finish_with_response(response)


def _read_body(request: WebKit2.URISchemeRequest) -> bytes | None:
    """The POST body, or ``None`` if it is larger than any message may be."""
    stream = request.get_http_body()
    if stream is None:
        return b""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read_bytes(1 << 20, None).get_data() or b""
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BINARY_MESSAGE:
            return None
        chunks.append(chunk)


class GtkPage:
    """The bridge's side of one WebKitWebView: everything the host must hear about."""

    def __init__(self, view: Any, host: WindowHost) -> None:
        self.view = view
        self.host = host
        self.console: Callable[[str, str], None] | None = None
        self._console_event = "ramparts:" + secrets.token_hex(16)
        self._manager = view.get_user_content_manager()
        #: Until the app's first page is asked for (see ``_decide``).
        self._placeholder = True
        self._gone = False

    # -- set-up (GUI thread) ---------------------------------------------------------

    def attach(self) -> None:
        context = self.view.get_context()
        context.get_security_manager().register_uri_scheme_as_secure(SCHEME)
        context.register_uri_scheme(SCHEME, self._scheme_request)
        # A download would write where WebKit chooses (the Downloads folder): none starts.
        context.connect("download-started", self._download)
        for name in (_CHANNEL, _CONSOLE, _CLOCK):
            self._manager.register_script_message_handler_in_world(name, WORLD)
        self._manager.connect(f"script-message-received::{_CHANNEL}", self._channel)
        self._manager.connect(f"script-message-received::{_CONSOLE}", self._console_line)
        self._manager.connect(f"script-message-received::{_CLOCK}", self._wake)
        view = self.view
        view.connect("decide-policy", self._decide)
        view.connect("notify::uri", lambda *_: self.host.main_frame_changed(view.get_uri() or ""))
        view.connect("permission-request", self._permission)
        view.connect("run-file-chooser", self._file_chooser)
        view.connect("enter-fullscreen", lambda _v: not self._allow_sync("fullscreen"))
        view.connect("create", self._new_window)
        view.connect("drag-motion", self._drag, False)
        view.connect("drag-drop", self._drag, True)
        self.host.connect(lambda text: GLib.idle_add(self._deliver, text))
        view.connect("destroy", self._destroyed)

    def _install_scripts(self) -> None:
        """The bootstrap (main world) and relay (isolated world) for the next document."""
        m = self._manager
        m.remove_all_scripts()
        top = WebKit2.UserContentInjectedFrames.TOP_FRAME
        start = WebKit2.UserScriptInjectionTime.START
        event = json.dumps(self._console_event)
        channel = (
            _CHANNEL_JS.replace("__FRAMES__", _FRAMES_JS)
            .replace("__CHANNEL__", json.dumps(_CHANNEL))
            .replace("__CONSOLE__", json.dumps(_CONSOLE))
            .replace("__CLOCK__", json.dumps(_CLOCK))
            .replace("__CONSOLE_EVENT__", event)
            .replace("__OBJECT__", json.dumps(self.host.relay_names["object"]))
        )
        relay = self.host.relay_script(channel)
        m.add_script(WebKit2.UserScript.new_for_world(relay, top, start, WORLD, None, None))
        # Two scripts, so that nothing in the console's can keep the bootstrap from running.
        for main in (_CONSOLE_JS.replace("__CONSOLE_EVENT__", event), self.host.bootstrap_script()):
            m.add_script(WebKit2.UserScript.new(main, top, start, None, None))

    # -- the channel -------------------------------------------------------------------

    def _channel(self, _manager: Any, message: Any) -> None:
        text = message.get_js_value().to_string()
        frames, text = text[:1] == "1", text[1:]
        self.host.channel_message(self.view.get_uri() or "", text, frames)

    def _deliver(self, text: str) -> bool:
        if self._gone:
            return False
        self.view.evaluate_javascript(
            f"__rampartsDeliver({json.dumps(text)})", -1, WORLD, None, None, None, None
        )
        return False

    def _wake(self, _manager: Any, message: Any) -> None:
        """The bootstrap's deadline clock on this engine: JavaScriptCore's timers, its
        ``AbortSignal.timeout`` included, share their ids with the page, whose
        clear-every-timeout loop would cancel them. A GLib timer answers instead, with a
        ``{"tick": n}`` message through the relay (a stale one does nothing there)."""
        try:
            request = json.loads(message.get_js_value().to_string())
            ms, generation = int(request["wake"]), int(request["g"])
        except (ValueError, TypeError, KeyError, OverflowError):
            return
        tick = json.dumps({"tick": generation})
        GLib.timeout_add(min(max(ms, 0), _MAX_WAKE_MS), self._deliver, tick)

    def _destroyed(self, _view: Any) -> None:
        # Replies and wake-ups due after the window has closed have no page to go to.
        self._gone = True

    def _console_line(self, _manager: Any, message: Any) -> None:
        if self.console is not None:
            level, line = json.loads(message.get_js_value().to_string())
            self.console(level if level in ("warning", "error") else "info", line)

    def with_frames(self, then: Callable[[bool], None]) -> None:
        """Call ``then`` with whether the page holds a same-origin frame, asked of the
        relay's world now (a failed question counts as yes)."""

        def answered(view: Any, result: Any) -> None:
            try:
                frames = view.evaluate_javascript_finish(result).to_boolean()
            except GLib.Error:
                frames = True
            then(frames)

        self.view.evaluate_javascript(_FRAMES_JS, -1, WORLD, None, None, answered)

    # -- the scheme --------------------------------------------------------------------

    def _scheme_request(self, request: WebKit2.URISchemeRequest) -> None:
        try:
            self._serve(request)
        except Exception:
            log.exception("scheme handler error")
            _fail(request, "request failed")

    def _serve(self, request: WebKit2.URISchemeRequest) -> None:
        url = request.get_uri()
        method = request.get_http_method() or "GET"
        if urlsplit(url).path == IPC_PATH:
            self._ipc(request, url, method)
            return
        resp = self.host.serve(method, url)
        if resp.status != 200:
            _fail(request, "not found")
            return
        _finish(request, resp.body, resp.mime, resp.headers)

    def _ipc(self, request: WebKit2.URISchemeRequest, url: str, method: str) -> None:
        body = _read_body(request) if method == "POST" else None
        if body is None:
            _refuse(request)
            return
        headers = request.get_http_headers()
        origin = headers.get_one("Origin") if headers is not None else None
        initiator = origin if origin is not None else _origin_of(url)

        def reply(status: int, chunks: list[bytes]) -> None:
            def finish() -> bool:
                if status != 200:
                    _refuse(request)
                else:
                    _finish(request, b"".join(chunks), "application/octet-stream", {})
                return False

            GLib.idle_add(finish)

        def dispatch(frames: bool) -> None:
            frame_url = self.view.get_uri() or ""
            self.host.binary_message(frame_url, initiator, body, reply, frames)

        self.with_frames(dispatch)

    # -- navigation --------------------------------------------------------------------

    def _decide(self, _view: Any, decision: Any, kind: WebKit2.PolicyDecisionType) -> bool:
        T = WebKit2.PolicyDecisionType
        if kind == T.NEW_WINDOW_ACTION:
            log.warning(
                "blocked a new window (window.open or target=_blank) in %r", self.host.label
            )
            decision.ignore()
        elif kind == T.NAVIGATION_ACTION:
            url = decision.get_navigation_action().get_request().get_uri()
            # Which frame asks is not known yet: what even the main frame may not load is
            # refused now; an app URL waits for its response to be told apart.
            if self.host.is_app_url(url):
                self._placeholder = False
                decision.use()
            elif self._placeholder and url == "about:blank":
                decision.ignore()  # pywebview's own first load, before the app's
            else:
                self.host.allow_navigation(url, True)  # refuses, and logs why
                decision.ignore()
        else:
            self._decide_response(decision)
        return True

    def _decide_response(self, decision: Any) -> None:
        url = decision.get_request().get_uri()
        main = decision.is_main_frame_main_resource()
        if not self.host.allow_navigation(url, main) or not decision.is_mime_type_supported():
            decision.ignore()  # a subframe, or a download: nothing is saved anywhere
            return
        self._install_scripts()  # the new session's, before its document exists
        decision.use()

    def _download(self, _context: Any, download: Any) -> None:
        log.warning("refused a download in %r", self.host.label)
        download.cancel()

    def _new_window(self, _view: Any, _action: Any) -> None:
        log.warning("blocked a new window in %r", self.host.label)

    # -- the engine's requests ---------------------------------------------------------

    def _allow(self, name: str, then: Callable[[bool], None]) -> None:
        url = self.view.get_uri() or ""
        self.with_frames(
            lambda frames: then(self.host.allow_web(name, _origin_of(url), url, frames))
        )

    def _allow_sync(self, name: str) -> bool:
        """For requests that must be answered at once: frames are not asked, so a page
        that holds a same-origin frame can have a power its window is granted."""
        url = self.view.get_uri() or ""
        return self.host.allow_web(name, _origin_of(url), url)

    def _permission(self, _view: Any, request: Any) -> bool:
        if isinstance(request, WebKit2.UserMediaPermissionRequest):
            if WebKit2.user_media_permission_is_for_display_device(request):
                names: tuple[str, ...] = ("screen-capture",)
            else:
                names = tuple(n for prop, n in _USER_MEDIA if request.get_property(prop))
        else:
            names = next((n for t, n in _PERMISSION_NAMES.items() if isinstance(request, t)), ())
        if not names:
            log.warning("refused the engine permission %s", type(request).__name__)
            request.deny()
            return True
        verdicts: list[bool] = []

        def answer(granted: bool) -> None:
            verdicts.append(granted)  # every name asked (no short cut): each refusal logged
            if len(verdicts) == len(names):
                request.allow() if all(verdicts) else request.deny()

        for name in names:
            self._allow(name, answer)
        return True

    def _file_chooser(self, _view: Any, request: Any) -> bool:
        """``<input type=file>``: the engine's chooser only with ``file-input``.

        WebKitGTK offers no folder upload (``webkitdirectory`` picks files), so there is
        no folder chooser to refuse.
        """

        def answer(granted: bool) -> None:
            if not granted:
                request.cancel()
                return

            def chosen(files: list[str]) -> None:
                request.select_files(files) if files else request.cancel()

            choose_files(self.view.get_toplevel(), request.get_select_multiple(), chosen)

        self._allow("file-input", answer)
        return True

    def _drag(self, _view: Any, context: Any, _x: int, _y: int, time: int, drop: bool) -> bool:
        """A drag that carries a list of URIs (files, but links too: the list is not
        read before the drop) is refused unless the window grants ``file-drop``."""
        carries_uris = any(str(t) == "text/uri-list" for t in context.list_targets())
        if not carries_uris or self._allow_sync("file-drop"):
            return False
        if drop:
            Gtk.drag_finish(context, False, False, time)
        else:
            Gdk.drag_status(context, 0, time)
        return True
