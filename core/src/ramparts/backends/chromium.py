"""No egress that the CSP does not name: the Chromium switches that confine the engine.

The CSP governs what a page *fetches*, but Chromium also opens connections the CSP never
sees: ``<link rel=preconnect>`` connects to any host, ``dns-prefetch`` resolves any name,
and WebRTC sends STUN/TURN packets (UDP and TCP) and ICE checks to whatever servers and
candidates the page names. So the engine process gets a network that only reaches the
hosts the CSP names:

* ``--proxy-server`` is a black hole (a name that never resolves), with the hosts named by
  the CSP in ``--proxy-bypass-list``, plus ``<-loopback>`` to drop Chromium's implicit
  bypass of ``localhost`` and loopback addresses. A connection Chromium's network stack
  makes (fetch, WebSocket, preconnect, prefetch, ping, beacon, WebRTC over TCP) goes
  either to a named host or into the black hole, where it fails without a packet.
* ``--host-resolver-rules`` maps every host the CSP does not name to "not found", so a
  DNS prefetch of an unnamed name sends no query (a query is egress too: the name reaches
  its own DNS server) and the black hole's name never resolves.
* ``--force-webrtc-ip-handling-policy=disable_non_proxied_udp`` keeps WebRTC off UDP and
  sends its TCP through the proxy, unless a window is granted ``webrtc``. Chromium reads
  the switch once per process, so one window's grant is the whole app's: WebRTC then
  reaches any host over UDP (STUN, TURN over UDP, ICE checks), whatever the CSP says;
  TURN over TCP or TLS still reaches only the hosts the CSP names.

A CSP source that allows every host (``*``, or a scheme-only ``https:``) leaves nothing to
name: then only the WebRTC switch is set, and WebRTC over TCP reaches any host (as a
``fetch`` already could). Switches that would undo these, already in the environment (the
user's, or an attacker's), are dropped: ``--no-proxy-server`` and ``--proxy-pac-url``
take precedence over ``--proxy-server``, ``--host-rules`` would send a named host to any
address, and the others would be replaced by ours anyway.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence

from ramparts.csp import merge_csp

__all__ = [
    "WEBRTC",
    "allowed_hosts",
    "confine",
    "engine_flags",
    "engine_switches",
    "refused_switch",
]

#: The web permission (a window's ``web`` list) that lets pages use WebRTC.
WEBRTC = "webrtc"

#: ``.invalid`` never resolves (RFC 2606), and the resolver rules below map it to "not
#: found" before any DNS server is asked: a connection through it fails without a packet.
_BLACK_HOLE = "http://egress-refused.invalid:9"

#: Switches this module owns; any other value for them would re-open the network. The
#: host rules remap hosts at connection time (an allowed name to any address), and the
#: rest choose the proxy or WebRTC's routes.
_OWNED = frozenset(
    {
        "proxy-server",
        "proxy-bypass-list",
        "proxy-pac-url",
        "proxy-auto-detect",
        "no-proxy-server",
        "winhttp-proxy-resolver",
        "host-resolver-rules",
        "host-rules",
        "force-webrtc-ip-handling-policy",
    }
)

#: Directives whose sources are places the engine may connect to.
_PLACES = ("form-action", "report-uri", "navigate-to")
#: Schemes whose host sources are network hosts (``app:``, ``data:``, ``blob:`` are not).
_NETWORK_SCHEMES = frozenset({"http", "https", "ws", "wss"})
_SOURCE = re.compile(
    r"^(?:(?P<scheme>[a-z][a-z0-9+.-]*)://)?"
    r"(?P<host>\*|(?:\*\.)?[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?)"
    r"(?::(?P<port>[0-9]+|\*))?(?:/.*)?$"
)


def allowed_hosts(policy: Mapping[str, Sequence[str]]) -> tuple[str, ...] | None:
    """The hosts (``host`` or ``host:port``) a policy lets the engine reach.

    :param policy: a merged CSP, directive -> sources.
    :return: the hosts, in policy order without repeats, or ``None`` when a source allows
        every host. A source without a port allows every port of its host: the engine
        layer confines hosts, the CSP itself still checks schemes and ports.
    """
    hosts: dict[str, None] = {}
    for directive, sources in policy.items():
        if not (directive.endswith("-src") or directive in _PLACES):
            continue
        for source in sources:
            host = _host_of(source.lower())
            if host == "*":
                return None
            if host:
                hosts[host] = None
    return tuple(hosts)


def _host_of(source: str) -> str | None:
    """``host[:port]`` of a CSP source, ``"*"`` for any host, ``None`` for no host."""
    if source.startswith("'"):
        return None  # 'self', 'none', 'unsafe-inline', nonces, hashes: no other host
    if source.endswith(":") and "/" not in source:
        return "*" if source[:-1] in _NETWORK_SCHEMES else None  # "https:" = any host
    m = _SOURCE.match(source)
    if m is None or (m.group("scheme") or "https") not in _NETWORK_SCHEMES:
        return None
    host, port = m.group("host").rstrip("."), m.group("port")
    if host == "*":
        return "*"
    return f"{host}:{port}" if port and port != "*" else host


def engine_switches(csp: Mapping[str, tuple[str, ...]], grants: Collection[str] = ()) -> list[str]:
    """The Chromium switches that confine the engine to the hosts the CSP names.

    :param csp: the app's ``security.csp`` (merged here with the strict default).
    :param grants: every web permission some window is granted; only ``webrtc`` matters.
    """
    switches = []
    hosts = allowed_hosts(merge_csp(csp))
    if hosts is not None:
        bypass = ["<-loopback>", *hosts]
        names = [_strip_port(h) for h in hosts]
        rules = ["MAP * ~NOTFOUND", *(f"EXCLUDE {n}" for n in dict.fromkeys(names))]
        switches += [
            f"--proxy-server={_BLACK_HOLE}",
            f"--proxy-bypass-list={','.join(bypass)}",
            f"--host-resolver-rules={','.join(rules)}",
        ]
    if WEBRTC not in grants:
        switches.append("--force-webrtc-ip-handling-policy=disable_non_proxied_udp")
    return switches


def _strip_port(host: str) -> str:
    return host.partition(":")[0]


def confine(
    flags: Iterable[str], csp: Mapping[str, tuple[str, ...]], grants: Collection[str] = ()
) -> list[str]:
    """``QTWEBENGINE_CHROMIUM_FLAGS`` (split) without the switches this module owns,
    followed by :func:`engine_switches`; ``" ".join`` of the result is the new value.

    The flags are read the way Qt WebEngine reads the variable, quotes included: a
    ``"--proxy-server=x"`` in quotes is the same switch to Qt, and an unclosed quote
    would otherwise swallow the switches appended after it.
    """
    kept = [a for a in _qt_arguments(" ".join(flags)) if _switch_name(a) not in _OWNED]
    return [_qt_quote(a) for a in (*kept, *engine_switches(csp, grants))]


#: Chromium switches that approve permission requests (or pick what a capture shares)
#: with nobody asked: ``--use-fake-ui-for-media-stream``,
#: ``--auto-accept-camera-and-microphone-capture``, ``--auto-select-desktop-capture-source``...
_AUTO_APPROVE = ("use-fake-ui-for", "auto-accept", "auto-select", "auto-grant")
#: Background connections Chromium makes on its own (updates, field trials).
_QUIET = ("--disable-background-networking", "--disable-component-update")


def refused_switch(arg: str) -> bool:
    """A debugging switch (``--remote-debugging-port=...``, ``-remote-debugging-pipe``)
    or one that approves permission requests by itself."""
    name = arg.lstrip("-/").lower()
    return name.startswith("remote-debugging") or name.startswith(_AUTO_APPROVE)


def engine_flags(
    flags: Iterable[str], csp: Mapping[str, tuple[str, ...]], grants: Collection[str] = ()
) -> list[str]:
    """The engine's switches made of ``flags`` (the environment's): confined to the
    CSP's hosts (:func:`confine`), without debugging or approving switches
    (:func:`refused_switch`), with Chromium's background networking off.

    No debugging port may open: DevTools there runs any script in the page,
    unauthenticated, a TCP door into it. Nor may a switch approve the page's permission
    requests without the app's config (the backend answers each one). ``confine`` reads
    the flags the way Qt does (a double quote anywhere is dropped, so
    ``"--remote-debugging-port=1"`` is that switch) and quotes what it returns: the
    check sees each switch as the engine will.
    """
    kept = [f for f in confine(flags, csp, grants) if not refused_switch(f.replace('"', ""))]
    return kept + [f for f in _QUIET if f not in kept]


def _qt_arguments(line: str) -> list[str]:
    """The arguments Qt WebEngine's ``parseEnvCommandLine`` makes of ``line``.

    Arguments are separated by spaces; a double quote toggles quoting anywhere and is
    itself dropped, so no argument ever contains one.
    """
    args: list[str] = []
    arg: list[str] = []
    quoted = False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == " " and not quoted:
            args.append("".join(arg))
            arg = []
        else:
            arg.append(c)
    args.append("".join(arg))
    return [a for a in args if a]  # Qt also keeps a quoted "": an empty, ignored argument


def _qt_quote(arg: str) -> str:
    return f'"{arg}"' if " " in arg else arg


def _switch_name(arg: str) -> str:
    """``proxy-server`` for ``--proxy-server=x``, ``-Proxy-Server`` or ``/proxy-server``."""
    return arg.lstrip("-/").partition("=")[0].lower()
