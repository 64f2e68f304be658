"""The backend-neutral side of one app window.

A :class:`WindowHost` decides everything a webview backend only carries out: which URLs
are served and with which CSP, which navigations are allowed, when a bridge session
starts and ends, and what the injected scripts say. A backend (``ramparts.backends``)
wires these decisions into a concrete webview.
"""

from __future__ import annotations

import http.client
import json
import logging
import mimetypes
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

import attrs

from ramparts.bridge.protocol import page_deadline_ms
from ramparts.bridge.session import Registry, WindowSession
from ramparts.csp import merge_csp, render_csp
from ramparts.errors import NotAllowed

if TYPE_CHECKING:
    from ramparts.bridge.dispatch import BinaryReply, Dispatcher

__all__ = [
    "IPC_PATH",
    "SCHEME",
    "Response",
    "WindowHost",
]

log = logging.getLogger("ramparts.bridge.host")

#: Reserved path on the app origin for the binary carrier (POST only).
IPC_PATH = "/.ramparts/ipc"
SCHEME = "app"

_HEADER_ONLY = {"frame-ancestors", "report-uri", "sandbox"}
_HEAD = re.compile(rb"<head(\s[^>]*)?>", re.IGNORECASE)
_HTML = re.compile(rb"<html(\s[^>]*)?>", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!doctype[^>]*>", re.IGNORECASE)
#: RFC 3986 ``pchar`` and ``/``: left as they are in a path sent to a dev server.
_PATH_CHARS = "/:@!$&'()*+,;=-._~"
#: Seconds one dev server file may take (the first request of a Vite page compiles).
_DEV_FETCH_TIMEOUT = 30.0
_ENCODED_SEPARATOR = re.compile(r"%(2f|5c)", re.IGNORECASE)  # "/" and "\\"


@attrs.frozen
class Response:
    status: int
    mime: str
    body: bytes
    headers: dict[str, str] = attrs.field(factory=dict)


def _dev_fetch(base: str, target: str) -> tuple[int, str, bytes]:
    """GET ``target`` (a path and query) from the dev server at ``base``.

    Redirects are not followed (a 3xx is just not a 200). :return: the status, the
    ``Content-Type`` and the body; a server that does not answer gives 502.
    """
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=_DEV_FETCH_TIMEOUT)
    try:
        conn.request("GET", target, headers={"Accept": "*/*"})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type", ""), resp.read()
    except (OSError, http.client.HTTPException):
        return 502, "text/plain", b"the dev server did not answer"
    finally:
        conn.close()


def _meta_policy(policy: dict[str, tuple[str, ...]]) -> str:
    # Browsers ignore (and warn about) these in a <meta> policy; the header has them.
    return render_csp({k: v for k, v in policy.items() if k not in _HEADER_ONLY})


def _js(name: str) -> str:
    from importlib.resources import files  # only when a window opens: ~4 ms at import

    return (files("ramparts.bridge") / "js" / name).read_text(encoding="utf-8")


class WindowHost:
    """Policy for one window: serving, navigation, sessions and scripts.

    :param label: the window's label (``main`` for the app's first window).
    :param identifier: the app identifier; the origin is ``app://<identifier>``.
    :param ui: the folder the UI is served from. Nothing outside it is ever served.
    :param entry: the entry page inside ``ui``.
    """

    def __init__(
        self,
        *,
        label: str,
        identifier: str,
        ui: Path,
        entry: str,
        csp: dict[str, tuple[str, ...]],
        registry: Registry,
        dispatcher: Dispatcher,
        handle_mode: Any,
        on_session: Callable[
            [WindowSession | None, WindowSession | None], None
        ] = lambda old, new: None,
        app: Any = None,
        web: tuple[str, ...] = (),
        dev_url: str | None = None,
    ) -> None:
        self.label = label
        #: The :class:`~ramparts.app.App` this window belongs to, and its pywebview window.
        self.app = app
        self.native: Any = None
        self.identifier = identifier
        self.origin = f"{SCHEME}://{identifier}"
        self.ui = ui.resolve()
        self.entry = entry
        self.policy = merge_csp(csp)
        self.csp = render_csp(self.policy)
        self.csp_meta = _meta_policy(self.policy)
        #: ``ramparts dev`` with ``[tool.ramparts.dev] url``: files come from this server.
        self.dev_url = dev_url
        #: The web engine powers (``web`` in the window's config) the page may use.
        self.web = frozenset(web)
        self.registry = registry
        self.dispatcher = dispatcher
        self.handle_mode = handle_mode
        self.on_session = on_session
        self.session: WindowSession | None = None
        self._send: Callable[[str], None] = lambda text: None
        self._ui_caller: Callable[[Callable[[], Any]], Any] | None = None
        # Names that only the two injected scripts know; fixed per window.
        self.relay_names = {
            "toRelay": "ramparts:" + secrets.token_hex(16),
            "fromRelay": "ramparts:" + secrets.token_hex(16),
            "object": "bridge",
        }

    # -- URLs ---------------------------------------------------------------------

    @property
    def start_url(self) -> str:
        return f"{self.origin}/{self.entry}"

    def is_app_url(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme == SCHEME and parts.netloc == self.identifier

    def serve(self, method: str, url: str) -> Response:
        """The response for a GET of an app URL. Anything else is 404/405.

        Refused with 404: another origin, dot segments (encoded too), encoded ``/`` and
        ``\\``, backslashes, NUL, and any path that resolves (through symlinks) outside
        the UI folder.
        """
        if method != "GET":
            return Response(405, "text/plain", b"method not allowed")
        path = self._path(url)
        if path is None:
            return Response(404, "text/plain", b"not found")
        if self.dev_url is not None:
            return self._serve_dev(path, url)
        target = (self.ui / path.lstrip("/")).resolve()
        try:
            target.relative_to(self.ui)
        except ValueError:
            return Response(404, "text/plain", b"not found")
        if not target.is_file():
            return Response(404, "text/plain", b"not found")
        body = target.read_bytes()
        mime = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if mime == "text/html":
            body = self.inject_csp_meta(body)
        if mime.startswith("text/") or mime in ("application/javascript", "application/json"):
            mime += "; charset=utf-8"
        return Response(200, mime, body, self.security_headers())

    def _path(self, url: str) -> str | None:
        """The decoded path of an app URL (the entry page for ``/``); ``None`` if refused."""
        if not self.is_app_url(url):
            return None
        raw = urlsplit(url).path
        if _ENCODED_SEPARATOR.search(raw):  # one URL segment must stay one path part
            return None
        path = unquote(raw)
        if path in ("", "/"):
            path = "/" + self.entry
        if any(c in path for c in "\x00\\") or any(p in ("..", ".") for p in path.split("/")):
            return None
        return path

    def _serve_dev(self, path: str, url: str) -> Response:
        """The dev server's file for ``path``, under the app's origin and CSP.

        An HTML page gets a fresh style nonce, in its CSP and in a ``csp-nonce`` meta
        (where Vite looks for it; see ``ramparts.dev.server``).
        """
        assert self.dev_url is not None
        query = urlsplit(url).query
        # Only what a path cannot hold is escaped: dev servers route on names such as
        # Vite's "/@vite/client" and "/@fs/...", which "%40" would not reach.
        target = quote(path, safe=_PATH_CHARS) + (f"?{query}" if query else "")
        status, mime, body = _dev_fetch(self.dev_url, target)
        if status != 200:
            return Response(404, "text/plain", b"not found")
        mime = mime or "application/octet-stream"
        if not mime.startswith("text/html"):
            return Response(200, mime, body, self.security_headers())
        # Hex: Qt WebEngine lower-cases the values of the headers a scheme handler sets,
        # and a nonce is compared case-sensitively.
        nonce = secrets.token_hex(16)
        policy = {**self.policy, "style-src": (*self.policy["style-src"], f"'nonce-{nonce}'")}
        meta = f'<meta property="csp-nonce" nonce="{nonce}">'.encode()
        body = self.inject_csp_meta(body, _meta_policy(policy), meta)
        return Response(200, mime, body, self.security_headers(render_csp(policy)))

    def security_headers(self, csp: str | None = None) -> dict[str, str]:
        return {
            "Content-Security-Policy": csp or self.csp,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        }

    def inject_csp_meta(self, html: bytes, policy: str | None = None, extra: bytes = b"") -> bytes:
        """Put the CSP ``<meta>`` (then ``extra``) first in ``<head>``, before every script."""
        content = (policy or self.csp_meta).encode()
        meta = b'<meta http-equiv="Content-Security-Policy" content="' + content + b'">' + extra
        for tag in (_HEAD, _HTML, _DOCTYPE):  # as early as possible, never before a doctype
            m = tag.search(html)
            if m:
                return html[: m.end()] + meta + html[m.end() :]
        return meta + html

    # -- navigation and sessions ---------------------------------------------------------

    def allow_navigation(self, url: str, main_frame: bool) -> bool:
        """Main frame: only the app's origin, and each such navigation is a new session.

        Subframes: nothing loads. A frame of the app's own origin could reach
        ``parent.ramparts``; a frame of any other origin gets nothing anyway.
        """
        if not main_frame:
            log.warning("blocked a frame navigation to %s in window %r", url, self.label)
            return False
        if not self.is_app_url(url):
            log.warning("blocked navigation away from the app to %s in window %r", url, self.label)
            return False
        self.new_session()
        return True

    def main_frame_changed(self, url: str) -> None:
        """The main frame now shows ``url`` (as the webview reports it).

        Some navigations never ask :meth:`allow_navigation`: a page script can send the
        main frame to ``about:blank`` (which inherits the app's origin). The page that
        owned the session is gone then, so the session ends with it: its key answers
        nothing more and its ``ramparts_session_ended`` cleanup (child processes, grants)
        runs now rather than when the next app page or the window's end comes.
        """
        if self.session is not None and not self.is_app_url(url):
            log.warning("window %r left the app for %s: its session ends", self.label, url)
            self.end()

    def allow_web(
        self, name: str, origin: str, frame_url: str, same_origin_frames: bool = False
    ) -> bool:
        """May the page have the web engine power ``name`` (a ``WEB_PERMISSIONS`` name)?

        Only when the window's config grants it, the request comes from the app's own
        origin, and the main frame shows an app page that holds a bridge session (not
        the ``about:blank`` a script can navigate to). The engine does not say which
        frame asked, so nothing is granted while a frame that can script the page
        exists: the same rule as the bridge's. ``origin`` and ``frame_url`` are as the
        webview reports them, never as the page claims.
        """
        from_app = origin.rstrip("/") == self.origin and self.is_app_url(frame_url)
        allowed = (
            name in self.web and from_app and self.session is not None and not same_origin_frames
        )
        if not allowed:
            log.warning(
                "refused the web permission %r to %s in window %r (granted: %s)",
                name,
                origin or frame_url,
                self.label,
                ", ".join(sorted(self.web)) or "none",
            )
        return allowed

    def new_session(self) -> WindowSession:
        old = self.session
        if old is not None:
            old.close()
        self.session = WindowSession(
            self.label, self.registry, self.handle_mode, self._deliver, host=self
        )
        self.on_session(old, self.session)
        return self.session

    def end(self) -> None:
        old, self.session = self.session, None
        if old is not None:
            old.close()
            self.on_session(old, None)

    def call_on_ui(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the GUI thread and return its result (blocks the caller).

        For capabilities that show native UI (dialogs). Set by the backend.
        """
        if self._ui_caller is None:
            raise RuntimeError(f"window {self.label!r} is not attached to a webview")
        return self._ui_caller(fn)

    def connect(self, send: Callable[[str], None]) -> None:
        """The backend's way to put a text message on the channel (GUI thread)."""
        self._send = send

    def _deliver(self, text: str) -> None:
        self._send(text)

    # -- scripts ----------------------------------------------------------------------

    def bootstrap_script(self) -> str:
        assert self.session is not None
        config = {
            **self.session.bootstrap_data(),
            "deadlines": self.deadlines(),
            "origin": self.origin,
            "ipcUrl": self.origin + IPC_PATH,
            "toRelay": self.relay_names["toRelay"],
            "fromRelay": self.relay_names["fromRelay"],
        }
        # The HMAC code first: the config (command names and all) is spliced in last, so
        # nothing in it is ever read as a placeholder.
        return (
            _js("bootstrap.js")
            .replace("__RAMPARTS_HMAC__", _js("hmac.js").strip())
            .replace("__RAMPARTS_CONFIG__", json.dumps(config))
        )

    def deadlines(self) -> dict[str, int | None]:
        """Milliseconds after which the page gives up on a call of each command.

        Python answers ``timeout`` itself when a command overruns, but a call can also
        wait unanswered: queued behind workers held by hung commands, or dropped. The
        page waits the command's timeout plus slack for the time before Python's clock
        starts (queueing, transfer, MAC), and forever for untimed commands (dialogs).
        """
        default = self.dispatcher.command_timeout
        return {
            name: page_deadline_ms(default if r.command.timeout is None else r.command.timeout)
            for name, r in self.registry.routes.items()
        }

    def relay_script(self, channel_js: str) -> str:
        return (
            channel_js
            + "\n"
            + _js("relay.js").replace("__RAMPARTS_RELAY__", json.dumps(self.relay_names))
        )

    # -- messages (from the backend, GUI thread) -----------------------------------------

    def channel_message(self, frame_url: str, text: Any, same_origin_frames: bool = False) -> None:
        """A message from the relay; ``frame_url`` is the main frame's URL per the webview."""
        session = self.session
        if session is None or not self.is_app_url(frame_url):
            log.warning("dropped a bridge message from %s", frame_url)
            return
        self.dispatcher.channel_message(session, text, refuse=_frames_refusal(same_origin_frames))

    def binary_message(
        self,
        frame_url: str,
        initiator: str,
        body: bytes,
        reply: BinaryReply,
        same_origin_frames: bool = False,
    ) -> None:
        """A binary-carrier POST; ``frame_url`` is the main frame's URL and ``initiator``
        the requesting origin, both per the webview."""
        session = self.session
        if session is None or initiator != self.origin:
            reply(403, [b'{"rejected":"origin"}'])
            return
        # As for the channel, the main frame must show an app page: an about:blank that a
        # page script navigated to inherits the app's origin, so it passes the initiator
        # check (and until the webview reports the new URL, the old session is live).
        if not self.is_app_url(frame_url):
            reply(403, [b'{"rejected":"main-frame"}'])
            return
        self.dispatcher.binary_message(
            session, body, reply, refuse=_frames_refusal(same_origin_frames)
        )


def _frames_refusal(same_origin_frames: bool) -> NotAllowed | None:
    if not same_origin_frames:
        return None
    return NotAllowed(
        "the bridge does not answer while the page holds a same-origin frame "
        "(about:blank, srcdoc): such a frame could call through the parent"
    )
