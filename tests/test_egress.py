"""The egress policy: which Chromium switches a CSP and the web grants turn into, and how
switches already in ``QTWEBENGINE_CHROMIUM_FLAGS`` are kept from undoing them. The real
engine's behaviour is in ``tests/security/test_engine_egress.py``. No engine runs here:
these are Qt's switches; GTK confines egress with WebKit's proxy settings instead
(``test_gtk_backend.py::test_connections_reach_only_the_hosts_the_csp_names``)."""

from __future__ import annotations

import pytest

from ramparts.backends.chromium import _qt_arguments, allowed_hosts, confine, engine_switches
from ramparts.csp import DEFAULT_CSP

BLACK_HOLE = "--proxy-server=http://egress-refused.invalid:9"
NO_UDP = "--force-webrtc-ip-handling-policy=disable_non_proxied_udp"


def test_the_default_csp_names_no_host() -> None:
    assert allowed_hosts(DEFAULT_CSP) == ()
    assert engine_switches({}) == [
        BLACK_HOLE,
        "--proxy-bypass-list=<-loopback>",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        NO_UDP,
    ]


@pytest.mark.parametrize(
    ("source", "host"),
    [
        ("https://api.example.com", "api.example.com"),
        ("https://API.Example.com/v1/", "api.example.com"),
        ("http://127.0.0.1:8080", "127.0.0.1:8080"),
        ("wss://*.example.org:*", "*.example.org"),
        ("example.net:443", "example.net:443"),
        ("http://localhost:5173/path", "localhost:5173"),
        ("https://dot.example.com.", "dot.example.com"),
    ],
)
def test_a_host_source_is_an_allowed_host(source: str, host: str) -> None:
    assert allowed_hosts({"connect-src": (source,)}) == (host,)


@pytest.mark.parametrize(
    "source",
    [
        "'self'",
        "'none'",
        "'sha256-abc='",
        "data:",
        "blob:",
        "app:",
        "mediastream:",
        "app://dev.ramparts.test",
        "ftp://files.example.com",
        "http://[::1]:8080",  # Chromium's CSP has no IPv6 literal sources
    ],
)
def test_sources_that_name_no_network_host(source: str) -> None:
    assert allowed_hosts({"connect-src": (source,)}) == ()


@pytest.mark.parametrize("source", ["*", "https:", "WSS:", "http://*", "https://*:443"])
def test_a_source_for_every_host(source: str) -> None:
    assert allowed_hosts({"img-src": ("'self'", source)}) is None


def test_hosts_come_from_every_fetch_directive_and_the_places_the_engine_posts_to() -> None:
    policy = {
        "img-src": ("https://img.example.com",),
        "font-src": ("https://fonts.example.com",),
        "form-action": ("https://forms.example.com",),
        "report-uri": ("https://reports.example.com/csp",),
        "connect-src": ("https://img.example.com",),  # a repeat is listed once
        # Not sources: a sandbox flag or a policy name is never a host.
        "sandbox": ("allow-scripts",),
        "trusted-types": ("default",),
    }
    assert allowed_hosts(policy) == (
        "img.example.com",
        "fonts.example.com",
        "forms.example.com",
        "reports.example.com",
    )


def test_the_named_hosts_bypass_the_black_hole_and_resolve() -> None:
    csp = {"connect-src": ("https://api.example.com", "http://127.0.0.1:8080", "*.cdn.net")}
    assert engine_switches(csp) == [
        BLACK_HOLE,
        "--proxy-bypass-list=<-loopback>,api.example.com,127.0.0.1:8080,*.cdn.net",
        "--host-resolver-rules=MAP * ~NOTFOUND,EXCLUDE api.example.com,"
        "EXCLUDE 127.0.0.1,EXCLUDE *.cdn.net",
        NO_UDP,
    ]


def test_a_csp_open_to_every_host_leaves_only_webrtc_confined() -> None:
    assert engine_switches({"connect-src": ("https:",)}) == [NO_UDP]


def test_webrtc_is_confined_unless_granted() -> None:
    assert NO_UDP in engine_switches({}, {"camera", "microphone"})
    assert NO_UDP not in engine_switches({}, {"webrtc"})
    assert engine_switches({}, {"webrtc"})[0] == BLACK_HOLE  # the rest stays


@pytest.mark.parametrize(
    "hostile",
    [
        "--no-proxy-server",
        "--proxy-server=direct://",
        "-proxy-server=direct://",
        "/proxy-server=direct://",
        "--PROXY-SERVER=direct://",
        '"--proxy-server=direct://"',
        '--proxy-"server"=direct://',
        "--proxy-bypass-list=*",
        "--proxy-pac-url=data:,",
        "--proxy-auto-detect",
        "--host-resolver-rules=MAP",
        "--host-rules=MAP",
        "--force-webrtc-ip-handling-policy=default",
    ],
)
def test_switches_that_would_reopen_the_network_are_dropped(hostile: str) -> None:
    result = confine(["--lang=fr", hostile, "--disable-gpu"], {})
    assert _qt_arguments(" ".join(result)) == [
        "--lang=fr",
        "--disable-gpu",
        *engine_switches({}),
    ]


def test_an_unclosed_quote_cannot_swallow_the_switches_after_it() -> None:
    # Qt would read `x" <our switches>` as one argument: the switches would be lost.
    result = confine(['--title="x'], {})
    args = _qt_arguments(" ".join(result))
    assert args == ["--title=x", *engine_switches({})]


def test_a_value_with_spaces_survives_the_round_trip() -> None:
    result = confine(['"--user-agent=A B"', "--x"], {"connect-src": ("https://a.example",)})
    args = _qt_arguments(" ".join(result))
    assert args[:2] == ["--user-agent=A B", "--x"]
    assert "--host-resolver-rules=MAP * ~NOTFOUND,EXCLUDE a.example" in args


def test_arguments_are_read_the_way_qt_reads_them() -> None:
    # Qt WebEngine's parseEnvCommandLine: spaces separate, a quote toggles and is dropped.
    assert _qt_arguments('a "b c"  d"e f"g "" h') == ["a", "b c", "de fg", "h"]
    assert _qt_arguments("tab\tinside") == ["tab\tinside"]
