"""URL scopes: deny-by-default allow lists of http(s) URL patterns, matched per component.

Shared by every capability that sends the app somewhere by URL (``http.fetch``, a
shell ``open``). Whole-string URL globs are what Tauri got bypassed with
(``http://allowed.example*@evil``, TAU2-055), so nothing here compares a URL as one
string. A URL is first parsed strictly into components (:func:`parse_url`):

1. Only ``http`` and ``https``. No control characters, spaces or backslashes anywhere;
   no user name or password (``user@host``, ``user:pw@host``): ``invalid_args``. The
   fragment is dropped (it never leaves the client).
2. The host is IDNA-encoded and lower-cased. A host that ends in a number is an IPv4
   address in any spelling a browser or ``inet_aton`` accepts (``2130706433``,
   ``0x7f.1``, ``0177.0.0.1``, ``127.1``) and becomes that address; IPv6 literals are
   canonical, and IPv4-mapped ones (``[::ffff:127.0.0.1]``) become the IPv4 address.
   So there is one spelling per address and it is compared as an address.
3. The path is normalized the way a browser would: ``%XX`` escapes of unreserved
   characters decoded (``%2e`` is ``.``), other escapes upper-cased, non-ASCII
   percent-encoded, then ``.`` and ``..`` segments resolved. A path that climbs above
   the root, an encoded ``/``, ``\\`` or NUL, and ``..;``-style segments (which some
   servers read as ``..``) are refused.

A pattern (:class:`UrlPattern`) names a scheme (exactly), a host (exactly, or with a
leading ``*.`` any subdomain of it, not the domain itself), a port (exactly, the scheme's
default when omitted, or ``*``) and a path glob (``*`` within a segment, ``**`` as a
whole segment for any number of segments). The query is never matched.

Addresses (:meth:`UrlScope.resolve`): a host name is resolved once, in Python; every
address it resolves to must be public unicast, unless the matching pattern names that
exact host with ``private = true``. A URL whose host is an IP literal needs a pattern
naming that IP, and then may reach it whatever its kind. Unspecified and multicast
addresses are never allowed. Callers must connect to the addresses returned, not
resolve the name again (that would let DNS rebinding swap the answer).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import string
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urljoin

import attrs

from ramparts.errors import CommandFailed, InvalidArgs, OutOfScope
from ramparts.toolkit.configtable import ConfigContext

__all__ = [
    "DEFAULT_PORTS",
    "IPAddress",
    "Resolver",
    "Target",
    "UrlPattern",
    "UrlScope",
    "address_kind",
    "join_url",
    "parse_url",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

Resolver = Callable[[str, int, str], tuple[IPAddress, ...]]
"""``resolver(host, port, where)``: every address of ``host``, first answer first."""

DEFAULT_PORTS: Final = {"http": 80, "https": 443}
MAX_URL: Final = 16 * 1024
MAX_HOST: Final = 253

#: Address kinds no scope can allow: they are not a destination.
NEVER_ALLOWED: Final = frozenset({"unspecified", "multicast"})

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_LABEL = re.compile(r"[a-z0-9_\-]{1,63}")
_HEX_NUMBER = re.compile(r"0x[0-9a-f]*")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_PATH_CHARS = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_QUERY_CHARS = _PATH_CHARS | {"?"}
_REFUSED_IN_PATH = {0x2F: "an encoded '/' (%2F)", 0x5C: "an encoded '\\' (%5C)", 0x00: "%00"}

_N4 = ipaddress.IPv4Network
_N6 = ipaddress.IPv6Network
# The IANA special-purpose registries, spelled out so the answer does not depend on
# which Python's ``ipaddress`` tables are installed.
_SPECIAL: Final[tuple[tuple[_N4 | _N6, str], ...]] = (
    (_N4("0.0.0.0/8"), "unspecified"),  # "this network"; 0.0.0.0 reaches this machine
    (_N4("10.0.0.0/8"), "private"),
    (_N4("100.64.0.0/10"), "private"),  # carrier-grade NAT
    (_N4("127.0.0.0/8"), "loopback"),
    (_N4("169.254.0.0/16"), "link-local"),
    (_N4("172.16.0.0/12"), "private"),
    (_N4("192.0.0.0/24"), "reserved"),
    (_N4("192.0.2.0/24"), "reserved"),
    (_N4("192.88.99.0/24"), "reserved"),
    (_N4("192.168.0.0/16"), "private"),
    (_N4("198.18.0.0/15"), "reserved"),
    (_N4("198.51.100.0/24"), "reserved"),
    (_N4("203.0.113.0/24"), "reserved"),
    (_N4("224.0.0.0/4"), "multicast"),
    (_N4("240.0.0.0/4"), "reserved"),  # includes 255.255.255.255
    (_N6("::/128"), "unspecified"),
    (_N6("::1/128"), "loopback"),
    (_N6("::/96"), "reserved"),  # IPv4-compatible (deprecated)
    (_N6("64:ff9b:1::/48"), "private"),  # local-use NAT64
    (_N6("100::/64"), "reserved"),
    (_N6("2001::/23"), "reserved"),  # includes Teredo
    (_N6("2001:db8::/32"), "reserved"),
    (_N6("fc00::/7"), "private"),
    (_N6("fe80::/10"), "link-local"),
    (_N6("fec0::/10"), "private"),  # site-local (deprecated)
    (_N6("ff00::/8"), "multicast"),
)
_NAT64: Final = _N6("64:ff9b::/96")


# -- parsing --------------------------------------------------------------------------


@attrs.frozen
class Target:
    """A parsed, normalized http(s) URL: what is matched, and what is requested.

    :ivar host: an ASCII lower-case host name, or an IP address in canonical text (IPv6
        without brackets).
    :ivar ip: the address when the host is an IP literal, else ``None``.
    :ivar query: the normalized query without ``?``, or ``None`` when there was none.
    """

    scheme: str
    host: str
    ip: IPAddress | None
    port: int
    path: str
    query: str | None = None

    @property
    def netloc(self) -> str:
        """``host[:port]`` as sent in the ``Host`` header (default port left out)."""
        return _netloc(self.host, self.ip, self.port, self.scheme)

    @property
    def url(self) -> str:
        """The normalized URL (no fragment, no user info)."""
        return self._with_netloc(self.netloc)

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    def url_for(self, address: IPAddress) -> str:
        """This URL with the host replaced by ``address``: what to connect to after
        :meth:`UrlScope.resolve`, so the checked address is the one used."""
        return self._with_netloc(_netloc(str(address), address, self.port, self.scheme, True))

    def _with_netloc(self, netloc: str) -> str:
        query = "" if self.query is None else "?" + self.query
        return f"{self.scheme}://{netloc}{self.path}{query}"

    def __str__(self) -> str:
        return self.url


def _netloc(host: str, ip: IPAddress | None, port: int, scheme: str, always: bool = False) -> str:
    shown = f"[{host}]" if isinstance(ip, ipaddress.IPv6Address) else host
    return shown if port == DEFAULT_PORTS[scheme] and not always else f"{shown}:{port}"


@attrs.frozen
class _Parts:
    scheme: str
    host: str
    bracketed: bool
    port: str | None
    path: str
    query: str | None
    fragment: str | None


def _split(url: Any, where: str) -> _Parts:
    """Cut a URL into raw components, refusing what no well-formed URL contains."""
    if not isinstance(url, str):
        raise InvalidArgs(f"{where}: expected a URL string")
    if len(url) > MAX_URL:
        raise InvalidArgs(f"{where}: the URL is longer than {MAX_URL} characters")
    for c in url:
        if ord(c) <= 0x20 or ord(c) == 0x7F or c == "\\" or 0x80 <= ord(c) <= 0x9F:
            raise InvalidArgs(
                f"{where}: a URL cannot contain spaces, control characters or backslashes"
            )
    m = _SCHEME.match(url)
    if m is None:
        raise InvalidArgs(f"{where}: not an absolute URL (expected http:// or https://)")
    scheme = m.group(1).lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidArgs(f"{where}: only http and https URLs are allowed, not {scheme}:")
    rest = url[m.end() :]
    if not rest.startswith("//"):
        raise InvalidArgs(f"{where}: expected '//' after '{scheme}:'")
    rest, hash_mark, fragment = rest[2:].partition("#")
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, rest = rest[:end], rest[end:]
    path, question, query = rest.partition("?")
    if "@" in authority:
        raise InvalidArgs(
            f"{where}: URLs with a user name or password (user@host) are refused",
            data={"reason": "userinfo"},
        )
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise InvalidArgs(f"{where}: an IPv6 address without its closing ']'")
        host, after = authority[1:close], authority[close + 1 :]
        if after and not after.startswith(":"):
            raise InvalidArgs(f"{where}: unexpected text after the IPv6 address")
        port = after[1:] if after else None
    else:
        host, colon, port_text = authority.partition(":")
        port = port_text if colon else None
    if not host:
        raise InvalidArgs(f"{where}: the URL has no host")
    return _Parts(
        scheme=scheme,
        host=host,
        bracketed=authority.startswith("["),
        port=port,
        path=path,
        query=query if question else None,
        fragment=fragment if hash_mark else None,
    )


def _parse_port(text: str | None, scheme: str, where: str) -> int:
    if text is None or text == "":
        return DEFAULT_PORTS[scheme]
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidArgs(f"{where}: the port must be a number from 1 to 65535, not {text!r}")
    return int(text)


def _ends_in_number(host: str) -> bool:
    """The WHATWG URL rule: such a host must be an IPv4 address (or is invalid)."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    last = parts[-1]
    return (last.isascii() and last.isdigit()) or _HEX_NUMBER.fullmatch(last) is not None


def _ipv4_number(part: str) -> int | None:
    if part.startswith("0x"):
        digits, base = part[2:], 16
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if digits == "":
        return 0 if base == 16 else None
    try:
        return int(digits, base) if digits.isascii() and digits.isalnum() else None
    except ValueError:
        return None


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """An IPv4 host in any form browsers and ``inet_aton`` accept, or ``None``.

    One to four dot-separated numbers, each decimal, octal (leading ``0``) or hex
    (``0x``); the last fills the remaining bytes (``127.1`` is ``127.0.0.1``).
    """
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4 or "" in parts:
        return None
    numbers = [_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return None
    value = values[-1] + sum(n << (8 * (3 - i)) for i, n in enumerate(values[:-1]))
    return ipaddress.IPv4Address(value)


def normalize_host(
    host: str, where: str, *, bracketed: bool = False
) -> tuple[str, IPAddress | None]:
    """``(canonical host, address)``: IDNA for names, one canonical text per address."""
    if bracketed:
        if "%" in host:
            raise InvalidArgs(f"{where}: IPv6 zone identifiers (%) are not allowed")
        try:
            ip6 = ipaddress.IPv6Address(host)
        except ValueError:
            raise InvalidArgs(f"{where}: [{host}] is not an IPv6 address") from None
        if ip6.ipv4_mapped is not None:
            return str(ip6.ipv4_mapped), ip6.ipv4_mapped
        return ip6.compressed, ip6
    if "%" in host:
        raise InvalidArgs(f"{where}: a host cannot be percent-encoded")
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidArgs(f"{where}: {host!r} is not a valid host name") from None
    if ascii_host.endswith("."):
        ascii_host = ascii_host[:-1]  # "example.com." is example.com
    if not ascii_host:
        raise InvalidArgs(f"{where}: the URL has no host")
    if _ends_in_number(ascii_host):
        ip4 = parse_ipv4(ascii_host)
        if ip4 is None:
            raise InvalidArgs(f"{where}: {host!r} looks like an IPv4 address but is not one")
        return str(ip4), ip4
    if len(ascii_host) > MAX_HOST or not all(_LABEL.fullmatch(x) for x in ascii_host.split(".")):
        raise InvalidArgs(f"{where}: {host!r} is not a valid host name")
    return ascii_host, None


def _escapes(text: str, allowed: frozenset[str], refused: Mapping[int, str], where: str) -> str:
    """Decode escapes of unreserved characters, upper-case the rest, encode the unsafe."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "%":
            hexa = text[i + 1 : i + 3]
            if len(hexa) != 2 or not all(h in string.hexdigits for h in hexa):
                raise InvalidArgs(f"{where}: a '%' that does not start a %XX escape")
            byte = int(hexa, 16)
            if byte in refused:
                raise InvalidArgs(f"{where}: {refused[byte]} in the path is refused")
            out.append(chr(byte) if chr(byte) in _UNRESERVED else f"%{byte:02X}")
            i += 3
            continue
        if c in allowed:
            out.append(c)
        else:
            try:
                out.append("".join(f"%{b:02X}" for b in c.encode("utf-8")))
            except UnicodeEncodeError:
                raise InvalidArgs(f"{where}: the URL is not valid Unicode text") from None
        i += 1
    return "".join(out)


def normalize_path(path: str, where: str) -> str:
    """Escapes normalized, then ``.``/``..`` resolved like a browser; escaping is refused."""
    if not path:
        path = "/"
    if not path.startswith("/"):
        raise InvalidArgs(f"{where}: the path must start with '/'")
    segments = _escapes(path, _PATH_CHARS, _REFUSED_IN_PATH, where).split("/")[1:]
    out: list[str] = []
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg in (".", ".."):
            if seg == "..":
                if not out:
                    raise InvalidArgs(f"{where}: the path climbs above the root ('..')")
                out.pop()
            if last:
                out.append("")
            continue
        bare = seg.split(";", 1)[0]
        if bare in (".", ".."):
            raise InvalidArgs(f"{where}: a {seg!r} segment is refused (servers may read '{bare}')")
        out.append(seg)
    return "/" + "/".join(out)


def parse_url(url: Any, where: str = "url") -> Target:
    """Parse and normalize an http(s) URL (rules 1-3 of the module docs), no network.

    :raises InvalidArgs: for anything malformed or refused outright.
    """
    parts = _split(url, where)
    host, ip = normalize_host(parts.host, where, bracketed=parts.bracketed)
    return Target(
        scheme=parts.scheme,
        host=host,
        ip=ip,
        port=_parse_port(parts.port, parts.scheme, where),
        path=normalize_path(parts.path, where),
        query=None if parts.query is None else _escapes(parts.query, _QUERY_CHARS, {}, where),
    )


def join_url(base: Target, reference: str) -> str:
    """Resolve a reference (a redirect's ``Location``) against ``base``, as text.

    Parse the result with :func:`parse_url` and check it again: joining decides nothing.
    """
    return urljoin(base.url, reference)


# -- addresses ------------------------------------------------------------------------


def address_kind(ip: IPAddress) -> str | None:
    """``None`` for a public unicast address, else its kind (``"loopback"``,
    ``"private"``, ``"link-local"``, ``"multicast"``, ``"reserved"``, ``"unspecified"``).

    IPv4-mapped, 6to4 and NAT64 (``64:ff9b::/96``) addresses are judged by the IPv4
    address inside them.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return address_kind(ip.ipv4_mapped)
        inner = ip.sixtofour
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            return address_kind(inner)  # the IPv4 address is where the packets end up
    for net, kind in _SPECIAL:
        if ip.version == net.version and ip in net:
            return kind
    if ip.is_loopback:
        return "loopback"
    if ip.is_multicast:
        return "multicast"
    if ip.is_link_local:
        return "link-local"
    if ip.is_private:
        return "private"
    if ip.is_reserved or not ip.is_global:
        return "reserved"
    return None


def _address(text: str) -> IPAddress:
    ip = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 scope id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def resolve_host(host: str, port: int, where: str = "url") -> tuple[IPAddress, ...]:
    """Every address ``host`` resolves to (``socket.getaddrinfo``), first answer first."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise CommandFailed(f"{where}: cannot resolve {host}", data={"reason": "dns"}) from None
    found: list[IPAddress] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            ip = _address(str(sockaddr[0]))
            if ip not in found:
                found.append(ip)
    if not found:
        raise CommandFailed(f"{where}: {host} has no IP address", data={"reason": "dns"})
    return tuple(found)


# -- patterns and scopes --------------------------------------------------------------


def _compile_path(glob: str) -> re.Pattern[str]:
    """A path glob (already normalized) as a regex over whole normalized paths."""
    out: list[str] = []
    segments = glob.split("/")[1:]
    for i, seg in enumerate(segments):
        if seg == "**":
            # "/a/**" matches /a itself and everything below; "/a/**/b" also /a/b.
            out.append("(?:/.*)?" if i == len(segments) - 1 else "(?:/[^/]*)*")
            continue
        if "**" in seg:
            raise ValueError("'**' only as a whole path segment (like /api/**)")
        out.append("/" + "[^/]*".join(re.escape(p) for p in seg.split("*")))
    return re.compile("".join(out) or "/", re.DOTALL)


@attrs.frozen
class UrlPattern:
    """One allowed URL pattern, already normalized.

    :ivar host: the exact host, or for ``*.example.com`` the parent ``example.com``.
    :ivar subdomains: the pattern was ``*.<host>``: any subdomain, not the host itself.
    :ivar port: the port, or ``None`` for ``*``.
    :ivar private: this exact host may resolve to non-public addresses.
    :ivar source: the pattern as written in the config.
    """

    scheme: str
    host: str
    ip: IPAddress | None
    subdomains: bool
    port: int | None
    path: str
    private: bool = False
    source: str = ""
    _path_re: re.Pattern[str] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_path_re", _compile_path(self.path))

    def matches(self, target: Target) -> bool:
        if target.scheme != self.scheme:
            return False
        if self.port is not None and target.port != self.port:
            return False
        if self.subdomains:
            if target.ip is not None or not target.host.endswith("." + self.host):
                return False
        elif target.host != self.host:
            return False
        return self._path_re.fullmatch(target.path) is not None

    @classmethod
    def parse(cls, spec: str | Mapping[str, Any]) -> UrlPattern:
        """A pattern from a URL string or a table; ``ValueError`` says what is wrong."""
        try:
            if isinstance(spec, str):
                return cls._from_url(spec, private=False)
            return cls._from_table(spec)
        except InvalidArgs as e:
            raise ValueError(
                f"a valid URL pattern ({e.message.removeprefix('pattern: ')})"
            ) from None

    @classmethod
    def _from_url(cls, url: str, *, private: bool) -> UrlPattern:
        parts = _split(url, "pattern")
        if parts.query is not None or parts.fragment is not None:
            raise ValueError("a pattern without '?' or '#' (the query is never matched)")
        if not parts.path:
            raise ValueError(
                "a pattern with a path: '/**' for every path on the host, '/' for the root only"
            )
        port = None if parts.port == "*" else _parse_port(parts.port, parts.scheme, "pattern")
        return cls._build(parts.scheme, parts.host, parts.bracketed, port, parts.path, private, url)

    @classmethod
    def _from_table(cls, table: Mapping[str, Any]) -> UrlPattern:
        keys = {"url", "scheme", "host", "port", "path", "private"}
        unknown = sorted(set(table) - keys)
        if unknown:
            raise ValueError(
                f"a table of url or scheme/host/port/path, and private (not {unknown[0]!r})"
            )
        private = table.get("private", False)
        if not isinstance(private, bool):
            raise ValueError("'private' = true or false")
        if "url" in table:
            if set(table) - {"url", "private"}:
                raise ValueError("either 'url' or scheme/host/port/path, not both")
            if not isinstance(table["url"], str):
                raise ValueError("'url' = a URL pattern string")
            return cls._from_url(table["url"], private=private)
        for key in ("scheme", "host", "path"):
            if not isinstance(table.get(key), str):
                raise ValueError(f"a pattern table with '{key}' (a string), or with 'url'")
        scheme = table["scheme"].lower()
        if scheme not in DEFAULT_PORTS:
            raise ValueError('\'scheme\' = "http" or "https"')
        raw_port = table.get("port", DEFAULT_PORTS[scheme])
        if raw_port == "*":
            port = None
        elif isinstance(raw_port, int) and not isinstance(raw_port, bool) and 0 < raw_port < 65536:
            port = raw_port
        else:
            raise ValueError("'port' = a number from 1 to 65535, or \"*\"")
        host: str = table["host"]
        bracketed = host.startswith("[") and host.endswith("]")
        host = host[1:-1] if bracketed else host
        if ":" in host and not bracketed:
            bracketed = True  # a bare IPv6 address in a table is unambiguous
        shown = f"{scheme}://{table['host']}:{'*' if port is None else port}{table['path']}"
        return cls._build(scheme, host, bracketed, port, table["path"], private, shown)

    @classmethod
    def _build(
        cls,
        scheme: str,
        raw_host: str,
        bracketed: bool,
        port: int | None,
        path: str,
        private: bool,
        source: str,
    ) -> UrlPattern:
        subdomains = raw_host.startswith("*.")
        if subdomains:
            raw_host = raw_host[2:]
        if "*" in raw_host:
            raise ValueError("a host that is exact or starts with '*.' (no other '*')")
        host, ip = normalize_host(raw_host, "pattern", bracketed=bracketed)
        if subdomains:
            if ip is not None:
                raise ValueError("'*.' before a domain name, not before an IP address")
            if "." not in host:
                raise ValueError("'*.' before a domain of at least two labels (*.example.com)")
            if private:
                raise ValueError("'private = true' with an exact host, not a '*.' wildcard")
        if ip is not None and address_kind(ip) in NEVER_ALLOWED:
            raise ValueError(f"an address that can be a destination ({ip} is {address_kind(ip)})")
        if "?" in path or "#" in path:
            raise ValueError("a pattern matches paths only: no '?' or '#'")
        if not path.startswith("/"):
            raise ValueError("a path that starts with '/'")
        escaped = _escapes(path, _PATH_CHARS, _REFUSED_IN_PATH, "pattern")
        if any(seg in (".", "..") for seg in escaped.split("/")):
            raise ValueError("a pattern path without '.' or '..' segments")
        normalized = normalize_path(path, "pattern")
        return cls(scheme, host, ip, subdomains, port, normalized, private, source)


@attrs.frozen
class UrlScope:
    """An allow list of :class:`UrlPattern`. Empty allows nothing."""

    patterns: tuple[UrlPattern, ...] = ()

    @classmethod
    def from_config(
        cls, table: Mapping[str, Any], ctx: ConfigContext, key: str = "scope"
    ) -> UrlScope:
        """Read ``<key> = [patterns]``: URL strings like ``"https://api.example.com/v1/**"``
        or tables ``{ url = "...", private = true }`` /
        ``{ scheme = "https", host = "*.example.com", port = "*", path = "/**" }``."""
        raw = table.get(key, [])
        if not isinstance(raw, list):
            raise ctx.error(key, raw, "a list of URL patterns (strings or tables)")
        patterns = []
        for i, spec in enumerate(raw):
            if not isinstance(spec, (str, dict)):
                raise ctx.error(f"{key}[{i}]", spec, "a URL pattern string or table")
            try:
                patterns.append(UrlPattern.parse(spec))
            except ValueError as e:
                raise ctx.error(f"{key}[{i}]", spec, str(e)) from None
        return cls(tuple(patterns))

    def matching(self, target: Target) -> list[UrlPattern]:
        return [p for p in self.patterns if p.matches(target)]

    def allows(self, target: Target) -> bool:
        return any(p.matches(target) for p in self.patterns)

    def check(self, url: Any, where: str = "url") -> Target:
        """Parse ``url`` and match it against the patterns. No DNS, no connection.

        :raises InvalidArgs: malformed or refused outright (see :func:`parse_url`).
        :raises OutOfScope: no pattern matches.
        """
        target = parse_url(url, where)
        if not self.allows(target):
            raise OutOfScope(f"{where}: {target.url} is outside this app's scope")
        return target

    def resolve(
        self, target: Target, where: str = "url", *, resolver: Resolver | None = None
    ) -> tuple[IPAddress, ...]:
        """The addresses to connect to for an in-scope ``target``, after the address rules.

        An IP-literal host is its own (named) address. A name is resolved once; every
        address must be public unless a matching pattern says ``private = true`` for this
        exact host. Unspecified and multicast addresses are always refused.

        :param resolver: ``resolver(host, port, where)``, default :func:`resolve_host`.
        :raises OutOfScope: not in scope, or an address the scope does not allow.
        :raises CommandFailed: the name does not resolve.
        """
        patterns = self.matching(target)
        if not patterns:
            raise OutOfScope(f"{where}: {target.url} is outside this app's scope")
        if target.ip is not None:
            addresses: tuple[IPAddress, ...] = (target.ip,)
        else:
            addresses = (resolver or resolve_host)(target.host, target.port, where)
        private = target.ip is not None or any(p.private for p in patterns)
        for ip in addresses:
            kind = address_kind(ip)
            if kind is None or (private and kind not in NEVER_ALLOWED):
                continue
            raise OutOfScope(
                f"{where}: {target.host} resolves to {ip}, a {kind} address"
                + ("" if kind in NEVER_ALLOWED else " that this app's scope does not name"),
                data={"address": str(ip), "kind": kind},
            )
        return addresses
