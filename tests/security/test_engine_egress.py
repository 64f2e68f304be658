"""No egress that the CSP does not name, in the real engine (each of the two).

The page tries every way it has to open a connection that the CSP does not see (WebRTC's
STUN, TURN and ICE checks, preconnect, DNS prefetch...) and the ways the CSP does see,
each aimed at its own TCP or UDP listener on a loopback address (IPv4, and IPv6 when the
machine has it). The listeners must receive nothing: not a packet, not a TCP handshake.
In the same page, the hosts the app's CSP names are reached, by address and by name.

On the code before ``ramparts.backends.chromium``, every WebRTC vector (STUN, TURN over UDP, TCP
and TLS, ICE checks over UDP and TCP, also from a same-origin ``about:blank`` frame) and
every preconnect (from the page and from such a frame, to addresses and names) reached
its listener; the other vectors were already stopped by the CSP. DNS queries are seen with strace
(``test_unnamed_names_are_never_resolved``): a name the CSP does not name is never
resolved, whatever makes the engine look it up.

On WebKitGTK the confinement is WebKit's proxy settings (``docs/backends.md``); this
WebKitGTK has no WebRTC (``RTCPeerConnection`` is undefined, even in a window granted
``webrtc``) and no ``<link rel=prefetch>``: those vectors are shown absent there, and
their listeners must still receive nothing.
"""

from __future__ import annotations

import re
import secrets
import shutil
import socket
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import report
from conftest import write_app
from engines import module_engine, qt_only_skip  # noqa: F401  # fixtures: both engines

from ramparts.testing import eval_in_app

pytestmark = [pytest.mark.webview, pytest.mark.usefixtures("qt_only_skip")]

#: The page's helpers. ``rtc`` gathers ICE candidates with the given servers; ``peer``
#: makes a connection whose remote candidate is the listener, so ICE checks go there.
PRELUDE = r"""
const out = {};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const link = (rel, href, as) => {
  const l = document.createElement("link"); l.rel = rel; l.href = href;
  if (as) l.as = as;
  document.head.appendChild(l);
};
const blank = () => { const f = document.createElement("iframe"); document.body.appendChild(f); return f.contentWindow; };
const note = (name, e) => { (out[name] = out[name] || []).push(String(e)); };
const keep = [];
const rtc = async (w, iceServers) => {
  try {
    const pc = new w.RTCPeerConnection({ iceServers });
    pc.createDataChannel("x");
    await pc.setLocalDescription(await pc.createOffer());
    keep.push(pc);
  } catch (e) { note("rtc", e); }
};
const peer = async (w, candidate) => {
  try {
    const a = new w.RTCPeerConnection(), b = new w.RTCPeerConnection();
    a.createDataChannel("x");
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(b.localDescription);
    await a.addIceCandidate({ candidate, sdpMid: "0" });
    keep.push(a, b);
  } catch (e) { note("peer", e); }
};
"""

#: name -> (listener kind, JS). In the JS, ``H`` is the listener's host as a URL writes
#: it (``[::1]``), ``A`` its bare address and ``P`` its port.
VECTORS: dict[str, tuple[str, str]] = {
    "stun-udp": ("udp", "await rtc(window, [{ urls: `stun:${H}:${P}` }]);"),
    "turn-udp": (
        "udp",
        "await rtc(window, [{ urls: `turn:${H}:${P}?transport=udp`, username: 'u', credential: 'c' }]);",
    ),
    "turn-tcp": (
        "tcp",
        "await rtc(window, [{ urls: `turn:${H}:${P}?transport=tcp`, username: 'u', credential: 'c' }]);",
    ),
    "turns": (
        "tcp",
        "await rtc(window, [{ urls: `turns:${H}:${P}?transport=tcp`, username: 'u', credential: 'c' }]);",
    ),
    "ice-peer-udp": (
        "udp",
        "await peer(window, `candidate:1 1 udp 2122260223 ${A} ${P} typ host`);",
    ),
    "ice-peer-tcp": (
        "tcp",
        "await peer(window, `candidate:1 1 tcp 1518280447 ${A} ${P} typ host tcptype passive`);",
    ),
    "iframe-stun": ("udp", "await rtc(blank(), [{ urls: `stun:${H}:${P}` }]);"),
    "iframe-turn-tcp": (
        "tcp",
        "await rtc(blank(), [{ urls: `turn:${H}:${P}?transport=tcp`, username: 'u', credential: 'c' }]);",
    ),
    "preconnect": ("tcp", "link('preconnect', `http://${H}:${P}/`);"),
    "iframe-preconnect": (
        "tcp",
        "{ const l = blank().document.createElement('link'); l.rel = 'preconnect'; l.href = `http://${H}:${P}/`; l.ownerDocument.head.appendChild(l); }",
    ),
    "dns-prefetch": ("tcp", "link('dns-prefetch', `http://${H}:${P}/`);"),
    "prefetch": ("tcp", "link('prefetch', `http://${H}:${P}/prefetch`);"),
    "preload": ("tcp", "link('preload', `http://${H}:${P}/preload`, 'fetch');"),
    "modulepreload": ("tcp", "link('modulepreload', `http://${H}:${P}/m.js`);"),
    "icon": ("tcp", "link('icon', `http://${H}:${P}/favicon.png`);"),
    "a-ping": (
        "tcp",
        "{ const a = document.createElement('a'); a.href = '#pinged'; a.ping = `http://${H}:${P}/ping`; document.body.appendChild(a); a.click(); }",
    ),
    "fetch-keepalive": (
        "tcp",
        "fetch(`http://${H}:${P}/k`, { keepalive: true, mode: 'no-cors', method: 'POST', body: 'x' }).catch((e) => note('keepalive', e));",
    ),
    "websocket": ("tcp", "try { new WebSocket(`ws://${H}:${P}/`); } catch (e) { note('ws', e); }"),
    "webtransport": (
        "udp",
        "try { const t = new WebTransport(`https://${H}:${P}/`); t.ready.catch(() => 0); t.closed.catch(() => 0); } catch (e) { note('wt', e); }",
    ),
    "beacon": (
        "tcp",
        "try { navigator.sendBeacon(`http://${H}:${P}/b`, 'x'); } catch (e) { note('beacon', e); }",
    ),
    "worker": ("tcp", "new Worker('egress-worker.js').postMessage({ H, P });"),
    "speculation-rules": (
        "tcp",
        "{ const s = document.createElement('script'); s.type = 'speculationrules'; s.textContent = JSON.stringify({ prefetch: [{ source: 'list', urls: [`http://${H}:${P}/s`] }] }); document.head.appendChild(s); }",
    ),
}

#: A dedicated worker's own connections (its CSP comes with its script).
WORKER_JS = (
    "onmessage = ({ data: { H, P } }) => {\n"
    "  try { new WebSocket(`ws://${H}:${P}/worker-ws`); } catch (e) {}\n"
    "  fetch(`http://${H}:${P}/worker-fetch`, { mode: 'no-cors' }).catch(() => 0);\n"
    "};\n"
)

#: The same at other spellings of the IPv4 listener's host: a name Chromium answers by
#: itself, the "any" address (which Linux delivers locally), a v4-mapped IPv6 address
#: and a short form that URL parsing expands.
OTHER_SPELLINGS = ("egress-test.localhost", "0.0.0.0", "[::ffff:127.0.0.1]", "127.1")
SPELLED_VECTORS = ("preconnect", "turn-tcp", "websocket")

#: Switches an attacker (or a careless user) might put in the environment to undo the
#: confinement; each one, if it took effect, would let a vector through.
HOSTILE_FLAGS = (
    '--no-proxy-server --proxy-server=direct:// "--proxy-pac-url=data:," --proxy-auto-detect '
    '--proxy-bypass-list=* "--host-rules=MAP * 127.0.0.1" --host-resolver-rules=MAP '
    '--force-webrtc-ip-handling-policy=default --title="unclosed'
)
#: The same for WebKitGTK, whose network stack (libsoup, GIO) reads the proxy variables
#: and GIO's resolver choice from the environment: each would bypass the proxy settings
#: that confine it, if they gave way.
HOSTILE_ENV = {
    "qt": {"QTWEBENGINE_CHROMIUM_FLAGS": HOSTILE_FLAGS},
    "gtk": {
        "no_proxy": "*",
        "NO_PROXY": "*",
        "http_proxy": "",
        "https_proxy": "",
        "all_proxy": "",
        "GIO_USE_PROXY_RESOLVER": "dummy",
        "GIO_USE_NETWORK_MONITOR": "base",
    },
}


class Listener:
    """A TCP or UDP socket on a loopback address that records whatever reaches it.

    TCP connections get an HTTP answer any origin may read, so a request that got through
    would also succeed in the page.
    """

    def __init__(self, kind: str, address: str) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        kinds = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}
        self.kind, self.address = kind, address
        self.sock = socket.socket(family, kinds[kind])
        self.sock.bind((address, 0))
        self.port: int = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        if kind == "tcp":
            self.sock.listen(16)
        self.sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return f"[{self.address}]" if ":" in self.address else self.address

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.kind == "udp":
                    self.received.append(self.sock.recv(65535))
                else:
                    conn, _ = self.sock.accept()
                    threading.Thread(target=self._answer, args=(conn,), daemon=True).start()
            except OSError:  # the timeout that lets the loop see _stop, or the close
                continue

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2)
            try:
                # A bare handshake (a preconnect sends nothing yet) is egress too.
                self.received.append(b"<connected>")
                self.received.append(conn.recv(65535))
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\n"
                    b"Content-Length: 7\r\nConnection: close\r\n\r\nreached"
                )
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _loopback_name() -> str | None:
    """A name that resolves (through ``/etc/hosts``) to a loopback address, other than
    ``localhost``, which Chromium answers by itself: only such a name shows that the
    engine's resolver still resolves the names the CSP allows."""
    name = socket.gethostname()
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_INET)
    except OSError:
        return None
    return name if infos and all(i[4][0].startswith("127.") for i in infos) else None


ADDRESSES = ("127.0.0.1", "::1") if _ipv6_loopback() else ("127.0.0.1",)


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    made: list[Listener] = []
    yield made
    for listener in made:
        listener.close()


def _page_script(
    listeners: list[Listener], allowed: dict[str, Listener], name: str | None
) -> tuple[str, dict[str, Listener]]:
    """The page's JS and the listener each vector aims at, by ``vector @ host``."""
    targets: dict[str, Listener] = {}
    parts = [PRELUDE]

    def aim(vector: str, kind: str, js: str, address: str, host: str | None = None) -> None:
        listener = Listener(kind, address)
        listeners.append(listener)
        host = host or listener.host
        assert f"{vector} @ {host}" not in targets
        targets[f"{vector} @ {host}"] = listener
        parts.append(f"{{ const H = '{host}', A = '{address}', P = '{listener.port}'; {js} }}")

    for address in ADDRESSES:
        for vector, (kind, js) in VECTORS.items():
            aim(vector, kind, js, address)
    for vector in SPELLED_VECTORS:
        kind, js = VECTORS[vector]
        for spelling in OTHER_SPELLINGS:
            aim(vector, kind, js, "127.0.0.1", spelling)
        if name is not None:
            aim(f"{vector} (allowed name, other port)", kind, js, "127.0.0.1", name)
    aim("preconnect (allowed address, other port)", "tcp", VECTORS["preconnect"][1], "127.0.0.1")
    for host, listener in allowed.items():
        url = f"http://{host}:{listener.port}/allowed"
        parts.append(
            f"out['{host}'] = await fetch('{url}').then((r) => r.text(), (e) => String(e));"
        )
    parts.append("out.webrtc = typeof RTCPeerConnection;")
    parts.append("await sleep(2500); return out;  // ICE gathering and checks take a moment")
    return "\n".join(parts), targets


#: The cases this module records (the docs' figures count them): each vector at every
#: loopback address, the other spellings of those hosts, and the hostile switches.
CASE_IDS = (
    *(f"egress-{v}" for v in VECTORS),
    "egress-other-spellings",
    "egress-hostile-switches",
    "egress-dns-query",
)
EXPECTED = "blocked: no packet or handshake reaches a host the CSP does not name"


@pytest.fixture(scope="module")
def outcomes(engine: str) -> Iterator[dict[str, dict[str, Any]]]:
    found: dict[str, dict[str, Any]] = {}
    yield found
    report.write_part("engine_egress", list(found.values()), engine)
    assert set(found) <= set(CASE_IDS)


def _record(outcomes: dict[str, dict[str, Any]], hostile: bool, leaks: dict[str, bytes]) -> None:
    """One case per vector on a plain run; the whole run as one case with hostile flags."""
    if hostile:
        reasons = [f"{t} received {b!r}" for t, b in leaks.items()]
        what = "every vector, with switches in the environment that would undo the confinement"
        case = report.case_record(
            "egress-hostile-switches", "engine", "xss", what, EXPECTED, reasons
        )
        outcomes[case["id"]] = case
        return
    # Targets are named "<vector> @ <host>"; the plain hosts are the loopback addresses.
    plain = {f"{v} @ {f'[{a}]' if ':' in a else a}" for v in VECTORS for a in ADDRESSES}
    for vector in VECTORS:
        reasons = [
            f"{t} received {b!r}"
            for t, b in leaks.items()
            if t in plain and t.startswith(f"{vector} @")
        ]
        what = f"{vector} to a loopback listener on every address ({', '.join(ADDRESSES)})"
        ability = "iframe" if vector.startswith("iframe") else "xss"
        case = report.case_record(f"egress-{vector}", "engine", ability, what, EXPECTED, reasons)
        outcomes[case["id"]] = case
    reasons = [f"{t} received {b!r}" for t, b in leaks.items() if t not in plain]
    what = (
        "preconnect, TURN over TCP and WebSocket to other spellings of loopback hosts, "
        "and to hosts the CSP names at ports it does not"
    )
    case = report.case_record("egress-other-spellings", "engine", "xss", what, EXPECTED, reasons)
    outcomes[case["id"]] = case


@pytest.mark.parametrize("hostile", [False, True], ids=["plain", "hostile-flags"])
def test_only_the_hosts_the_csp_names_are_reached(
    tmp_path: Path,
    listeners: list[Listener],
    outcomes: dict[str, dict[str, Any]],
    engine: str,
    hostile: bool,
) -> None:
    name = _loopback_name()
    allowed = {"127.0.0.1": Listener("tcp", "127.0.0.1"), "localhost": Listener("tcp", "127.0.0.1")}
    if name is not None:
        allowed[name] = Listener("tcp", "127.0.0.1")
    listeners.extend(allowed.values())
    sources = ", ".join(f'"http://{h}:{listener.port}"' for h, listener in allowed.items())
    app = write_app(
        tmp_path / "app",
        security=f'csp = {{ "connect-src" = [{sources}] }}',
        files={"egress-worker.js": WORKER_JS},
    )
    script, targets = _page_script(listeners, allowed, name)
    env = HOSTILE_ENV[engine] if hostile else {}
    out: dict[str, Any] = eval_in_app(app, script, timeout=60, env=env)
    leaks = {vector: t.received[-1][:40] for vector, t in targets.items() if t.received}
    _record(outcomes, hostile, leaks)
    assert leaks == {}, f"reached a host the CSP does not name: {leaks}\npage: {out}"
    # WebRTC's vectors tried a real engine feature, or (WebKitGTK) one that is absent.
    assert out["webrtc"] == ("function" if engine == "qt" else "undefined"), out
    for host, listener in allowed.items():
        assert out[host] == "reached", (host, out)
        assert listener.received[1].startswith(b"GET /allowed "), host


def test_a_webrtc_grant_opens_udp_for_the_whole_app(
    tmp_path: Path, listeners: list[Listener], engine: str
) -> None:
    """Chromium takes WebRTC's routes once per process: a window granted ``webrtc`` opens
    them for every window, here the main one that was granted nothing. Other engine
    connections stay confined. WebKitGTK here has no WebRTC at all: the grant opens
    nothing."""
    windows = textwrap.dedent(
        """
        [[tool.ramparts.windows]]
        label = "main"
        [[tool.ramparts.windows]]
        label = "call"
        web = ["webrtc"]
        """
    )
    app = write_app(tmp_path / "app", capabilities=windows)
    stun, preconnect = Listener("udp", "127.0.0.1"), Listener("tcp", "127.0.0.1")
    listeners.extend((stun, preconnect))
    script = "\n".join(
        (
            PRELUDE,
            f"{{ const H = '127.0.0.1', P = '{stun.port}'; {VECTORS['stun-udp'][1]} }}",
            f"{{ const H = '127.0.0.1', P = '{preconnect.port}'; {VECTORS['preconnect'][1]} }}",
            "out.webrtc = typeof RTCPeerConnection;",
            "await sleep(2500); return out;",
        )
    )
    out = eval_in_app(app, script, timeout=60)
    if engine == "qt":
        assert stun.received, f"STUN did not reach the listener with webrtc granted: {out}"
    else:
        assert out["webrtc"] == "undefined" and stun.received == [], out
    assert preconnect.received == []


#: Ways a page makes the engine resolve a name, each aimed at its own name; ``N`` is the
#: name. A DNS query is egress too: the name itself carries data out to the resolver.
RESOLVING = {
    "dns-prefetch": "link('dns-prefetch', `http://${N}/`);",
    "preconnect": "link('preconnect', `http://${N}/`);",
    "prefetch": "link('prefetch', `http://${N}/p`);",
    "image": "{ const i = new Image(); i.src = `http://${N}/i.png`; document.body.appendChild(i); }",
    "fetch": "fetch(`http://${N}/f`, { mode: 'no-cors' }).catch(() => 0);",
    "websocket": "try { new WebSocket(`ws://${N}/`); } catch (e) {}",
    "anchor": "{ const a = document.createElement('a'); a.href = `http://${N}/a`; a.textContent = 'a'; document.body.appendChild(a); }",
}


def _queried_names(app: Path, script: str, tag: str) -> tuple[set[str], Any]:
    """Run ``script`` in the app under strace: the vectors (of ``RESOLVING``) whose name
    any of the app's processes, the engine's network process and resolver threads
    included, sent out as a DNS question."""
    trace = app / "strace.txt"
    wrapper = ["strace", "-f", "-qq", "--seccomp-bpf", "-s", "512", "-o", str(trace)]
    wrapper += ["-e", "trace=sendto,sendmsg,sendmmsg"]
    out = eval_in_app(app, script, timeout=60, wrapper=wrapper)
    # A question spells the name as length-prefixed labels: "<tag>-<vector>\7example\3org";
    # the dotted spelling (the script itself, crossing to the renderer) does not count.
    found = re.findall(rf"{tag}-([a-z-]+)\\7example\\3org", trace.read_text())
    return set(found), out


def _resolving_script(tag: str) -> str:
    parts = [PRELUDE]
    parts += [f"{{ const N = '{tag}-{v}.example.org'; {js} }}" for v, js in RESOLVING.items()]
    parts.append("await sleep(2500); return out;  // the engine resolves in its own time")
    return "\n".join(parts)


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (scripts/setup.sh)")
def test_unnamed_names_are_never_resolved(
    tmp_path: Path, outcomes: dict[str, dict[str, Any]]
) -> None:
    """No DNS query for a name the CSP does not name, by any of the ways above; the
    control (a CSP source allowing any host, so nothing is confined) shows that strace
    sees the engine's queries."""
    tag = f"q{secrets.token_hex(4)}"
    confined = write_app(tmp_path / "confined", security='csp = { "img-src" = ["data:"] }')
    queried, out = _queried_names(confined, _resolving_script(tag), tag)
    case = report.case_record(
        "egress-dns-query",
        "engine",
        "xss",
        f"a name the CSP does not name, by {', '.join(RESOLVING)}",
        "blocked: no DNS query for it leaves the engine",
        [f"queried {n}" for n in sorted(queried)],
    )
    outcomes[case["id"]] = case
    assert queried == set(), f"resolved names the CSP does not name: {queried}\npage: {out}"
    control = write_app(tmp_path / "control", security='csp = { "img-src" = ["*"] }')
    queried, out = _queried_names(control, _resolving_script(tag), tag)
    assert "preconnect" in queried, f"strace saw no DNS query: {out}"
