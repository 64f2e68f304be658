"""Runs one corpus case, then follows the main frame to ``about:blank`` and probes it.

``ramparts dev --eval`` loses its script when the page navigates away, so this driver
(``python follow.py APP_DIR CASE.json``) runs everything through ``runJavaScript`` in
the main world: the page's privileges, as ``--eval`` has. First the case's own body;
then, for each way a page script can put ``about:blank`` into the main frame, a probe
runs in the resulting document as that document's script. The probe is a stronger
attacker than any real one: it is handed the live session's key, a signed call to the
canary's handle and the relay's secret event names. Then the driver navigates back to
the app and makes a control call. The last stdout line is ``{id: {result, control}}``,
as the harness expects from ``--eval``.
"""

from __future__ import annotations

import json
import queue
import secrets
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ramparts.app import App
from ramparts.bridge.host import IPC_PATH, WindowHost
from ramparts.bridge.protocol import sign_binary, sign_channel

#: Page scripts that put about:blank into the main frame without Python's say.
NAVIGATIONS = {
    "location": 'location.href = "about:blank";',
    "replace": 'location.replace("about:blank");',
    "link": 'const a = document.createElement("a"); a.href = "about:blank"; '
    "document.body.appendChild(a); a.click();",
    "open-self": 'window.open("about:blank", "_self");',
}

PROBE = r"""
const M = __MESSAGES__;
const out = { href: location.href, origin: String(self.origin), ramparts: typeof window.ramparts,
  qt: typeof window.qt, pywebview: typeof window.pywebview, scripts: document.scripts.length };
if (window.ramparts) {
  out.invoke = await ramparts.invoke("canary", { tag: M.tag }).then((v) => "answered " + v, (e) => e.code);
}
// The binary carrier, with a call the live session would run if it came from the app.
const body = new Uint8Array(M.binary.match(/../g).map((h) => parseInt(h, 16)));
out.post = await fetch(M.ipc + "?n=" + body.length, { method: "POST", body }).then((r) => r.status, (e) => e.name);
// The channel, through the relay's real event name, if any relay listens here.
document.dispatchEvent(new CustomEvent(M.toRelay, { detail: M.channel }));
await new Promise((r) => setTimeout(r, 300));
out.escaped = out.ramparts !== "undefined" || out.qt !== "undefined" || out.post === 200;
return out;
"""

WAIT_S = 20.0
#: Seconds a navigation to about:blank may take before it counts as refused.
NAVIGATION_S = 5.0


class Page:
    """The main window's page, driven from this (non-GUI) thread, on Qt WebEngine."""

    def __init__(self, host: WindowHost) -> None:
        self.host = host

    def _page(self) -> Any:
        return self.host.native.native.webview.page()

    def run(self, source: str) -> Any:
        """``source`` as one script in the main world; its completion value."""
        got: queue.Queue[Any] = queue.Queue()
        self.host.call_on_ui(lambda: self._page().runJavaScript(source, 0, got.put))
        return got.get(timeout=WAIT_S)

    def url(self) -> str:
        return str(self.host.call_on_ui(lambda: self._page().url().toString()))

    def navigate(self, url: str) -> None:
        from PyQt6.QtCore import QUrl

        self.host.call_on_ui(lambda: self._page().setUrl(QUrl(url)))

    def call(self, body: str) -> dict[str, Any]:
        """``body`` as an async function; ``{ok, v}`` or ``{ok: false, error}``."""
        slot = "__follow_" + secrets.token_hex(8)
        self.run(
            f"(async () => {{\n{body}\n}})().then("
            f"(v) => {{ window[{slot!r}] = JSON.stringify({{ ok: true, v }}); }},"
            f"(e) => {{ window[{slot!r}] = JSON.stringify({{ ok: false, code: e && e.code,"
            " error: String((e && e.stack) || e) }); }); 'started'"
        )
        value = wait(lambda: self.run(f"window[{slot!r}] || null"), "the script to settle")
        return dict(json.loads(value))


class GtkPage(Page):
    """The same on WebKitGTK: the WebKitWebView's main world."""

    def _view(self) -> Any:
        from webview.platforms.gtk import BrowserView

        return BrowserView.instances[self.host.native.uid].webview

    def run(self, source: str) -> Any:
        got: queue.Queue[Any] = queue.Queue()

        def done(view: Any, result: Any) -> None:
            try:
                value = view.evaluate_javascript_finish(result)
            except Exception as e:  # a script that threw: its message, as Qt gives None
                got.put(f"error: {e}")
                return
            if value.is_undefined() or value.is_null():
                got.put(None)
            elif value.is_boolean():
                got.put(value.to_boolean())
            elif value.is_string():
                got.put(value.to_string())
            else:
                got.put(json.loads(value.to_json(0)))

        self.host.call_on_ui(
            lambda: self._view().evaluate_javascript(source, -1, None, None, None, done)
        )
        return got.get(timeout=WAIT_S)

    def url(self) -> str:
        return str(self.host.call_on_ui(lambda: self._view().get_uri() or ""))

    def navigate(self, url: str) -> None:
        self.host.call_on_ui(lambda: self._view().load_uri(url))


def wait(fn: Callable[[], Any], what: str) -> Any:
    """Poll ``fn`` until it returns something true (bounded)."""
    end = time.monotonic() + WAIT_S
    while time.monotonic() < end:
        value = fn()
        if value:
            return value
        time.sleep(0.02)
    raise TimeoutError(f"waited {WAIT_S:g} s for {what}")


def arrives(done: Callable[[], bool]) -> bool:
    """Whether ``done()`` comes true within :data:`NAVIGATION_S` (a refused navigation
    can only be seen as one that never arrives)."""
    end = time.monotonic() + NAVIGATION_S
    while time.monotonic() < end:
        if done():
            return True
        time.sleep(0.02)
    return False


def refused(page: Page, same_session: bool) -> dict[str, Any]:
    """A navigation to about:blank the engine refused (WebKitGTK refuses it for every
    frame at the request): safe only if the app's own document and session stayed."""
    stayed = page.run("window.__followed || null") == "the same document" and same_session
    return {"refused": True, "v": {"escaped": not stayed, "href": page.url()}}


def messages(host: WindowHost, tag: str, seq: int) -> dict[str, str]:
    """What the probe sends: calls to the canary signed with the live session's key."""
    session = host.session
    assert session is not None
    handle = session.initial_handles["canary"][0]
    call = {"h": handle, "c": "probe", "a": {"tag": tag}}
    return {
        "tag": tag,
        "binary": sign_binary(session.key, {"s": seq, **call}).hex(),
        "channel": sign_channel(session.key, json.dumps({"s": seq + 1, **call})),
        "toRelay": host.relay_names["toRelay"],
        "ipc": f"{host.origin}{IPC_PATH}",
    }


def app_ready(page: Page) -> bool:
    return bool(
        page.run("typeof window.ramparts === 'object' && document.readyState === 'complete'")
    )


def drive(app: App, case: dict[str, str], out: dict[str, Any]) -> None:
    cid = case["id"]
    try:
        host = wait(lambda: app.hosts.get("main"), "the main window")
        wait(lambda: host._ui_caller is not None and host.session is not None, "the webview")
        page = GtkPage(host) if app._backend.name == "gtk" else Page(host)  # type: ignore[union-attr]
        wait(lambda: app_ready(page), "the app page")
        entry = page.url()
        result: dict[str, Any] = {"case": page.call(case["js"]), "navigations": {}}
        for n, (name, script) in enumerate(NAVIGATIONS.items()):
            sent = messages(host, cid, 5000 + 10 * n)
            session = host.session
            page.run("window.__followed = 'the same document';")
            page.run(script)
            if not arrives(lambda: page.url() == "about:blank"):
                probe = refused(page, host.session is session)
            else:
                probe = page.call(PROBE.replace("__MESSAGES__", json.dumps(sent)))
                probe["same_session"] = host.session is session
                page.navigate(entry)  # back to the app: a new session
                wait(lambda: page.url() == entry and app_ready(page), "the app page again")
            result["navigations"][name] = probe
            ctl = page.call(f"return ramparts.invoke('canary', {{tag: 'control-{cid}-{name}'}});")
            probe["control_after"] = ctl
        probes = result["navigations"].values()
        result["escaped"] = result["case"].get("v", {}).get("escaped", True) or any(
            p.get("v", {}).get("escaped", True) for p in probes
        )
        control = page.call(f"return ramparts.invoke('canary', {{tag: 'control:{cid}'}});")
        out[cid] = {"result": result, "control": control}
    except Exception as e:  # reported as the case's error, not a crash of the app
        out[cid] = {"result": {"error": f"{type(e).__name__}: {e}"}, "control": None}
    finally:
        app.close_window("main")


def main() -> int:
    app_dir, case_file = sys.argv[1], sys.argv[2]
    case = json.loads(Path(case_file).read_text(encoding="utf-8"))
    app = App.load(app_dir)
    out: dict[str, Any] = {}
    threading.Thread(target=drive, args=(app, case, out), daemon=True).start()
    app.run(headless=True, trace=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
