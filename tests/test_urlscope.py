"""The URL-scope engine (``ramparts.toolkit.urlscope``): strict parsing and normalization, numeric
and IPv6 host forms, per-component matching (never whole-string globs), config errors,
and the address rules applied after DNS. No network: resolvers here are fakes."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts import ConfigContext
from ramparts.errors import CommandFailed, ConfigError, InvalidArgs, OutOfScope
from ramparts.toolkit.urlscope import (
    IPAddress,
    Target,
    UrlPattern,
    UrlScope,
    address_kind,
    join_url,
    parse_ipv4,
    parse_url,
    resolve_host,
)

CTX = ConfigContext(
    Path("/app/pyproject.toml"), "tool.ramparts.capabilities.http", Path("/app"), "x"
)


def scope(*specs: str | dict[str, Any]) -> UrlScope:
    return UrlScope.from_config({"scope": list(specs)}, CTX)


def code(fn: Any, *args: Any, **kwargs: Any) -> str:
    try:
        fn(*args, **kwargs)
    except (InvalidArgs, OutOfScope, CommandFailed) as e:
        return e.code
    return "ok"


def fake_dns(answers: dict[str, list[str]]) -> Any:
    calls: list[str] = []

    def resolver(host: str, port: int, where: str) -> tuple[IPAddress, ...]:
        calls.append(host)
        if host not in answers:
            raise CommandFailed(f"{where}: cannot resolve {host}")
        return tuple(ipaddress.ip_address(a) for a in answers[host])

    resolver.calls = calls  # type: ignore[attr-defined]
    return resolver


# -- parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("http://example.com", "http://example.com/"),
        ("HTTPS://Example.COM:443/A/b", "https://example.com/A/b"),
        ("http://example.com:80/", "http://example.com/"),
        ("http://example.com:0080/", "http://example.com/"),
        ("http://example.com:8080", "http://example.com:8080/"),
        ("http://example.com./x", "http://example.com/x"),
        ("http://example.com/a/./b/../c", "http://example.com/a/c"),
        ("http://example.com/a/b/..", "http://example.com/a/"),
        ("http://example.com/a/%2e%2E/b", "http://example.com/b"),
        ("http://example.com/%7Euser/%41%62", "http://example.com/~user/Ab"),
        ("http://example.com/%3f%c3%a9", "http://example.com/%3F%C3%A9"),
        ("http://example.com/é ".strip(), "http://example.com/%C3%A9"),
        ("http://example.com/a?b=é&c=/d?e", "http://example.com/a?b=%C3%A9&c=/d?e"),
        ("http://example.com/a?", "http://example.com/a?"),
        ("http://example.com/a#frag?x", "http://example.com/a"),
        ("http://example.com?q", "http://example.com/?q"),
        ("http://bücher.example/", "http://xn--bcher-kva.example/"),
        ("http://BÜCHER.example/", "http://xn--bcher-kva.example/"),
        ("http://\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com/", "http://example.com/"),
        ("http://example。com/", "http://example.com/"),
        ("http://2130706433/", "http://127.0.0.1/"),
        ("http://0x7f.0.0.1/", "http://127.0.0.1/"),
        ("http://0x7F000001/", "http://127.0.0.1/"),
        ("http://0177.0.0.1/", "http://127.0.0.1/"),
        ("http://017700000001/", "http://127.0.0.1/"),
        ("http://127.1/", "http://127.0.0.1/"),
        ("http://127.0.1/", "http://127.0.0.1/"),
        ("http://127.0.0.1./", "http://127.0.0.1/"),
        ("http://0x7f.1/", "http://127.0.0.1/"),
        ("http://0/", "http://0.0.0.0/"),
        ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", "http://127.0.0.1/"),
        ("http://[::1]/", "http://[::1]/"),
        ("http://[0:0:0:0:0:0:0:1]:8080/", "http://[::1]:8080/"),
        ("http://[::ffff:127.0.0.1]/", "http://127.0.0.1/"),
        ("http://[::ffff:7f00:1]/", "http://127.0.0.1/"),
        ("http://[2001:DB8::1]/", "http://[2001:db8::1]/"),
        ("http://127.0.0.1#@allowed.example/", "http://127.0.0.1/"),
        ("http://127.0.0.1?@allowed.example/", "http://127.0.0.1/?@allowed.example/"),
        ("http://127.0.0.1/@allowed.example/", "http://127.0.0.1/@allowed.example/"),
    ],
)
def test_urls_are_normalized_like_a_browser(url: str, normalized: str) -> None:
    target = parse_url(url)
    assert target.url == normalized
    assert parse_url(target.url) == target  # a fixed point


@pytest.mark.parametrize(
    "url",
    [
        "http://allowed.example@127.0.0.1/",
        "http://user:pw@allowed.example/",
        "http://:@allowed.example/",
        "http://@allowed.example/",
        "http://allowed.example*@evil.example/",
        "http://allowed.example%40evil.example/",
        "http://allowed.example\uff20127.0.0.1/",  # fullwidth @ becomes @ under IDNA: refused
        "http://allowed.example\uff0f@127.0.0.1/",
        "http://allowed.example\\@127.0.0.1/",
        "http://127.0.0.1\t/",
        "http://127.0.0.1/\n",
        " http://127.0.0.1/",
        "http://exa mple.com/",
        "http://example.com/\x00",
        "ftp://example.com/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "data:text/plain,hi",
        "//example.com/",
        "/relative",
        "http:/example.com/",
        "http:example.com",
        "http://",
        "http:///path",
        "http://:80/",
        "http://example.com:/",  # an empty port is the default port: allowed (see below)
        "http://example.com:0/",
        "http://example.com:65536/",
        "http://example.com:8o/",
        "http://example.com:80:81/",
        "http://example.com:-1/",
        "http://example.com:²/",
        "http://[::1/",
        "http://[::1]x/",
        "http://[fe80::1%25eth0]/",
        "http://[1.2.3.4]/",
        "http://[::ffff:1.2.3]/",
        "http://1.2.3.4.5/",
        "http://256.0.0.1/",
        "http://1.2.3.256/",
        "http://0x100000000/",
        "http://4294967296/",
        "http://1.2.65536/",
        "http://09.0.0.1/",
        "http://0xg.0.0.1/",
        "http://foo.0x7f/",
        "http://foo.127/",
        "http://example..com/",
        "http://./",
        "http://exa_mple!.com/",
        "http://%65xample.com/",
        "http://" + "a" * 64 + ".com/",
        "http://" + ("a" * 60 + ".") * 5 + "com/",
        "http://example.com/../etc/passwd",
        "http://example.com/a/../../b",
        "http://example.com/%2e%2e/x",
        "http://example.com/a%2Fb",
        "http://example.com/a%2f..%2f..%2fadmin",
        "http://example.com/a%5Cb",
        "http://example.com/a%00b",
        "http://example.com/..;/admin",
        "http://example.com/a/.;x/b",
        "http://example.com/%zz",
        "http://example.com/%4",
        "http://example.com/\ud800",
        "http://example.com/\x85",
        42,
        None,
        "http://example.com/" + "a" * 20000,
    ],
)
def test_malformed_and_tricky_urls_are_refused(url: Any) -> None:
    if url == "http://example.com:/":
        assert parse_url(url).url == "http://example.com/"
        return
    with pytest.raises(InvalidArgs):
        parse_url(url)


def test_userinfo_refusal_says_why() -> None:
    with pytest.raises(InvalidArgs, match="user name or password") as info:
        parse_url("https://api.example.com@evil.example/")
    assert info.value.data == {"reason": "userinfo"}


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("1", "0.0.0.1"),
        ("0x0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("0xffffffff", "255.255.255.255"),
        ("4294967295", "255.255.255.255"),
        ("037777777777", "255.255.255.255"),
        ("10.1", "10.0.0.1"),
        ("10.0x10.1", "10.16.0.1"),
        ("192.168.0x1", "192.168.0.1"),
        ("192.0250.1.1", "192.168.1.1"),
        ("00", "0.0.0.0"),
        ("08", None),
        ("1..2", None),
        ("1.2.3.4.5", None),
        ("a.1", None),
        ("1_0", None),
        ("-1", None),
        ("0x1.0x1.0x1.0x100", None),
    ],
)
def test_ipv4_in_every_spelling(text: str, address: str | None) -> None:
    got = parse_ipv4(text)
    assert (str(got) if got is not None else None) == address


def test_join_resolves_locations_then_they_are_parsed_again() -> None:
    base = parse_url("http://a.example/x/y?q")
    assert join_url(base, "/z") == "http://a.example/z"
    assert join_url(base, "z") == "http://a.example/x/z"
    assert join_url(base, "//b.example/p") == "http://b.example/p"
    assert join_url(base, "https://c.example") == "https://c.example"
    assert parse_url(join_url(base, "../../../z")).url == "http://a.example/z"
    with pytest.raises(InvalidArgs):
        parse_url(join_url(base, "http://u@b.example/"))


# -- patterns and matching --------------------------------------------------------------


def test_patterns_match_per_component() -> None:
    s = scope(
        "https://api.example.com/v1/**",
        "https://*.cdn.example/img/*.png",
        "http://127.0.0.1:8080/",
        "http://[::1]:*/health",
        {"scheme": "https", "host": "Docs.Example.ORG", "port": 8443, "path": "/a/**/z"},
        {"url": "http://localhost:3000/**", "private": True},
    )
    allowed = [
        "https://api.example.com/v1",
        "https://api.example.com/v1/",
        "https://api.example.com/v1/users/7?x=1#f",
        "https://API.EXAMPLE.COM:443/v1/a",
        "https://api.example.com./v1/a",
        "https://api.example.com/v1/a/../b",
        "https://a.cdn.example/img/x.png",
        "https://a.b.cdn.example/img/.png",
        "http://127.0.0.1:8080/",
        "http://2130706433:8080/",
        "http://[::ffff:127.0.0.1]:8080/",
        "http://[::1]:1/health",
        "http://[0:0::1]:65535/health",
        "https://docs.example.org:8443/a/z",
        "https://docs.example.org:8443/a/b/c/z",
        "http://localhost:3000/",
    ]
    refused = [
        "http://api.example.com/v1/a",  # scheme
        "https://api.example.com:8443/v1/a",  # port
        "https://api.example.com/v2/a",  # path
        "https://api.example.com/v1x",
        "https://api.example.com/v1/../admin",  # normalized before matching
        "https://api.example.com/v1/%2e%2e/admin",
        "https://api.example.com.evil.example/v1/a",  # host suffix
        "https://evilapi.example.com/v1/a",
        "https://x.api.example.com/v1/a",
        "https://cdn.example/img/x.png",  # '*.' does not match the domain itself
        "https://evilcdn.example/img/x.png",
        "https://a.cdn.example/img/x/y.png",  # '*' stays in one segment
        "https://a.cdn.example/img/x.png.exe",
        "http://127.0.0.1:8081/",
        "http://127.0.0.1:8080/x",
        "http://127.0.0.2:8080/",
        "http://localhost:8080/",  # a name is not its address
        "http://[::1]:1/other",
        "https://docs.example.org/a/z",
        "https://docs.example.org:8443/a/zz",
        "http://localhost:3001/",
        "http://127.0.0.1:3000/",
    ]
    for url in allowed:
        assert s.allows(parse_url(url)), url
        assert s.check(url).url == parse_url(url).url
    for url in refused:
        assert not s.allows(parse_url(url)), url
        assert code(s.check, url) == "out_of_scope", url


def test_a_whole_string_glob_bypass_cannot_happen() -> None:
    """TAU2-055: ``http://allowed.example*`` as one glob let ``@evil`` through."""
    s = scope("https://allowed.example/**")
    for url in [
        "https://allowed.example@evil.example/",
        "https://allowed.example:443@evil.example/",
        "https://allowed.example%2F@evil.example/",
    ]:
        assert code(s.check, url) == "invalid_args", url
    for url in [
        "https://allowed.example.evil.example/",
        "https://evil.example/allowed.example/",
        "https://evil.example/?https://allowed.example/",
        "https://evil.example#https://allowed.example/",
    ]:
        assert code(s.check, url) == "out_of_scope", url
    with pytest.raises(ConfigError):
        scope("https://allowed.example*/**")


def test_empty_scope_allows_nothing() -> None:
    assert code(scope().check, "https://example.com/") == "out_of_scope"
    assert UrlScope.from_config({}, CTX).patterns == ()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("https://api.example.com", "with a path"),
        ("https://api.example.com/?q=1", "without '?' or '#'"),
        ("https://api.example.com/#x", "without '?' or '#'"),
        ("https://user@api.example.com/", "user name"),
        ("ftp://api.example.com/", "only http and https"),
        ("*://api.example.com/", "absolute URL"),
        ("https://*/**", "exact or starts with"),
        ("https://*.com/**", "at least two labels"),
        ("https://a*.example.com/**", "exact or starts with"),
        ("https://*.*.example.com/**", "exact or starts with"),
        ("https://*.127.0.0.1/**", "not before an IP"),
        ("https://api.example.com/a**", "whole path segment"),
        ("https://api.example.com/../**", "'.' or '..'"),
        ("https://api.example.com/%2e%2e/**", "'.' or '..'"),
        ("https://api.example.com/a/./b", "'.' or '..'"),
        ("https://api.example.com/a%2Fb", "%2F"),
        ("http://0.0.0.0/**", "unspecified"),
        ("http://[::]/**", "unspecified"),
        ("http://224.0.0.1/**", "multicast"),
        ("http://[ff02::1]/**", "multicast"),
        ("http://api.example.com:*x/", "port"),
        ({"url": "https://*.example.com/**", "private": True}, "exact host"),
        ({"url": "https://a.example/**", "private": "yes"}, "true or false"),
        ({"url": "https://a.example/**", "path": "/x"}, "not both"),
        ({"url": 7}, "a URL pattern string"),
        ({"scheme": "https", "host": "a.example"}, "with 'path'"),
        ({"scheme": "ftp", "host": "a.example", "path": "/"}, "scheme"),
        ({"scheme": "https", "host": "a.example", "path": "/", "port": 0}, "port"),
        ({"scheme": "https", "host": "a.example", "path": "/", "port": True}, "port"),
        ({"scheme": "https", "host": "a.example", "path": "x"}, "starts with '/'"),
        ({"scheme": "https", "host": "a.example", "path": "/", "query": "x"}, "not 'query'"),
        (7, "string or table"),
    ],
)
def test_bad_patterns_are_config_errors(spec: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        UrlScope.from_config({"scope": ["https://ok.example/**", spec]}, CTX)
    assert message in info.value.expected
    assert info.value.key == "tool.ramparts.capabilities.http.scope[1]"


def test_scope_must_be_a_list() -> None:
    with pytest.raises(ConfigError) as info:
        UrlScope.from_config({"scope": "https://a.example/**"}, CTX)
    assert info.value.key == "tool.ramparts.capabilities.http.scope"


def test_table_patterns() -> None:
    s = scope(
        {"scheme": "HTTPS", "host": "*.example.com", "port": "*", "path": "/**"},
        {"scheme": "http", "host": "::1", "path": "/"},
        {"scheme": "http", "host": "[::2]", "port": 81, "path": "/"},
    )
    assert s.allows(parse_url("https://a.example.com:1234/x"))
    assert s.allows(parse_url("http://[::1]/"))
    assert s.allows(parse_url("http://[::2]:81/"))
    assert not s.allows(parse_url("http://[::2]/"))
    assert UrlPattern.parse("https://a.example/**").source == "https://a.example/**"


# -- addresses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("93.184.216.34", None),
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:8.8.8.8", None),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("172.32.0.1", None),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fec0::1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("255.255.255.255", "reserved"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.1", "reserved"),
        ("198.18.0.1", "reserved"),
        ("203.0.113.9", "reserved"),
        ("192.0.0.8", "reserved"),
        ("2001:db8::1", "reserved"),
        ("2001::1", "reserved"),  # Teredo
        ("100::1", "reserved"),
        ("::7f00:1", "reserved"),  # IPv4-compatible ::127.0.0.1
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::1", "private"),  # 6to4 of 192.168.1.1
        ("2002:5db8:d822::1", None),  # 6to4 of 93.184.216.34
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),
        ("64:ff9b::808:808", None),
        ("64:ff9b:1::1", "private"),
    ],
)
def test_address_kinds(address: str, kind: str | None) -> None:
    assert address_kind(ipaddress.ip_address(address)) == kind


def test_names_must_resolve_to_public_addresses() -> None:
    s = scope(
        "https://api.example.com/**",
        "https://*.example.net/**",
        {"url": "http://nas.home.arpa/**", "private": True},
        "http://10.0.0.7:8080/**",
        "http://[fd00::7]/**",
    )
    dns = fake_dns(
        {
            "api.example.com": ["93.184.216.34", "2606:2800:220:1::1"],
            "x.example.net": ["127.0.0.1"],
            "y.example.net": ["93.184.216.34", "10.1.2.3"],  # one bad answer spoils all
            "z.example.net": ["::ffff:169.254.169.254"],
            "w.example.net": ["0.0.0.0"],
            "nas.home.arpa": ["192.168.1.20", "fe80::1", "127.0.0.1"],
        }
    )

    def resolve(url: str) -> Any:
        return s.resolve(s.check(url), resolver=dns)

    assert [str(a) for a in resolve("https://api.example.com/")] == [
        "93.184.216.34",
        "2606:2800:220:1::1",
    ]
    for url, kind in [
        ("https://x.example.net/", "loopback"),
        ("https://y.example.net/", "private"),
        ("https://z.example.net/", "link-local"),
        ("https://w.example.net/", "unspecified"),
    ]:
        with pytest.raises(OutOfScope) as info:
            resolve(url)
        assert info.value.data["kind"] == kind, url
    assert len(resolve("http://nas.home.arpa/")) == 3  # named exactly, private = true
    # An IP literal is its own address, named by the scope: no DNS at all.
    assert [str(a) for a in resolve("http://10.0.0.7:8080/")] == ["10.0.0.7"]
    assert [str(a) for a in resolve("http://[fd00::7]/")] == ["fd00::7"]
    assert "10.0.0.7" not in dns.calls
    # Out of scope: refused before resolving.
    with pytest.raises(OutOfScope):
        s.resolve(parse_url("https://other.example/"), resolver=dns)
    assert "other.example" not in dns.calls


def test_private_never_opens_unspecified_or_multicast() -> None:
    s = scope({"url": "http://weird.example/**", "private": True})
    for answer, kind in [
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
    ]:
        dns = fake_dns({"weird.example": [answer]})
        with pytest.raises(OutOfScope) as info:
            s.resolve(s.check("http://weird.example/"), resolver=dns)
        assert info.value.data["kind"] == kind


def test_the_real_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def fake(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host == "dup.test":
            return [
                (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:93.184.216.34", port, 0, 0)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fe80::1%eth0", port, 0, 2)),
            ]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    assert [str(a) for a in resolve_host("dup.test", 80)] == ["93.184.216.34", "fe80::1"]
    with pytest.raises(CommandFailed, match="cannot resolve"):
        resolve_host("nx.test", 80)


def test_localhost_resolves_to_loopback_and_is_refused_unless_private() -> None:
    """The real system resolver: ``localhost`` is loopback on every machine."""
    target = parse_url("http://localhost:9/")
    with pytest.raises(OutOfScope, match="loopback"):
        scope("http://localhost:9/**").resolve(target)
    addresses = scope({"url": "http://localhost:9/**", "private": True}).resolve(target)
    assert all(address_kind(a) == "loopback" for a in addresses)


def test_url_for_connects_to_the_checked_address() -> None:
    target = parse_url("https://api.example.com/v1/x?y=1")
    assert target.url_for(ipaddress.ip_address("93.184.216.34")) == (
        "https://93.184.216.34:443/v1/x?y=1"
    )
    assert (
        target.url_for(ipaddress.ip_address("2606:2800::1"))
        == "https://[2606:2800::1]:443/v1/x?y=1"
    )
    assert target.netloc == "api.example.com"
    assert parse_url("http://[::1]:81/").netloc == "[::1]:81"
    assert Target("http", "a.example", None, 80, "/").url == "http://a.example/"


# -- properties ---------------------------------------------------------------------------

_URLISH = st.text(
    alphabet=st.sampled_from([*"ab1.:/@?#%[]*-_~2fF0x\\ ", "é", "\uff20", "。", "\uff58"]),
    max_size=30,
)


@settings(max_examples=400, deadline=None)
@given(scheme=st.sampled_from(["http://", "https://", "HTTP://", "ftp://", ""]), rest=_URLISH)
def test_parsing_never_crashes_and_is_idempotent(scheme: str, rest: str) -> None:
    try:
        target = parse_url(scheme + rest)
    except InvalidArgs:
        return
    assert parse_url(target.url) == target
    assert "@" not in target.netloc and "#" not in target.url
    assert target.scheme in ("http", "https")


@settings(max_examples=300, deadline=None)
@given(rest=_URLISH)
def test_an_exact_host_pattern_only_matches_that_host(rest: str) -> None:
    s = scope("http://allowed.example/**")
    try:
        target = s.check("http://allowed.example" + rest)
    except (InvalidArgs, OutOfScope):
        return
    assert target.host == "allowed.example" and target.port == 80
