"""The ``http`` capability: HTTP requests from the page to the URLs the app's scope allows.

The page's own ``fetch`` is held to ``connect-src 'self'`` by the CSP; this command is
the one way out, so it is checked like one (Tauri's http API was a CSP bypass, TRI-008):

* every URL, the first and each redirect hop, goes through the core's
  :class:`ramparts.toolkit.urlscope.UrlScope` (per-component matching, no userinfo) and its
  address rules, before any connection;
* the connection goes to the address that was checked: the request URL given to the
  transport carries the resolved IP, while the ``Host`` header and TLS (SNI and the
  certificate's name check, through httpcore's ``sni_hostname`` extension) carry the
  host name. Nothing resolves the name a second time, so DNS rebinding cannot swap it;
* each hop gets a new transport: no connection (and so no TLS session checked for
  another name) is reused, no proxy or ``.netrc`` from the environment is used, no
  cookie jar exists;
* TLS trusts what the config says (the system's CAs, ``ca_file``) and logs no keys,
  whatever ``SSL_CERT_FILE``, ``SSL_CERT_DIR`` or ``SSLKEYLOGFILE`` say (see :mod:`.tls`);
* sizes and time are bounded: the body is read in chunks (decompressed with a bound)
  and reading stops past the limit; one deadline covers DNS, connects, redirects and
  the body.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import zlib
from collections.abc import Mapping
from typing import Any, Literal

import attrs
import httpx

import ramparts
from ramparts import CallContext, Capability, ConfigContext, InvalidArgs, command
from ramparts.bridge.protocol import strict_loads
from ramparts.errors import CommandError, CommandFailed, CommandTimeout, TooLarge
from ramparts.toolkit.text import declared_charset
from ramparts.toolkit.urlscope import IPAddress, Target, UrlScope, join_url

from .tls import Trust, configure_trust, tls_context

__all__ = ["HttpResponse", "HttpState", "configure", "fetch", "ramparts_capability"]

DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 600.0
DEFAULT_MAX_RESPONSE = 16 * 1024 * 1024
MAX_RESPONSE = 1024 * 1024 * 1024  # the bridge's own ceiling for a binary reply
DEFAULT_MAX_REDIRECTS = 10
MAX_HEADER_BYTES = 64 * 1024
USER_AGENT = "ramparts-http/0.1"

_KEYS = (
    "scope",
    "timeout",
    "max_response_bytes",
    "max_redirects",
    "allow_cookies",
    "ca_file",
    "system_ca",
)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_STANDARD_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
_FORBIDDEN_METHODS = ("CONNECT", "TRACE", "TRACK")
# Set by this capability, or meaningless from a page: the connection, its framing and
# its target are ours to decide.
_REFUSED_HEADERS = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "accept-encoding",  # we decode the body (with a size bound), so we choose codings
        "expect",
    }
)
_COOKIE_HEADERS = frozenset({"cookie", "cookie2"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_BODY_HEADERS = ("content-type", "content-encoding", "content-language", "content-location")
_CREDENTIAL_HEADERS = ("authorization", "cookie", "cookie2")
_CHUNK = 64 * 1024


@attrs.frozen
class HttpState:
    """The parsed ``[tool.ramparts.capabilities.http]`` table."""

    scope: UrlScope
    timeout: float = DEFAULT_TIMEOUT
    max_response_bytes: int = DEFAULT_MAX_RESPONSE
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    allow_cookies: bool = False
    trust: Trust = attrs.field(factory=Trust)


def configure(table: Mapping[str, Any], ctx: ConfigContext) -> HttpState:
    """Parse the capability's table; every key is optional except a useful ``scope``."""
    ctx.check_keys(table, _KEYS)
    return HttpState(
        scope=UrlScope.from_config(table, ctx),
        timeout=ctx.seconds(table, "timeout", DEFAULT_TIMEOUT, maximum=MAX_TIMEOUT),
        max_response_bytes=ctx.whole_number(
            table,
            "max_response_bytes",
            DEFAULT_MAX_RESPONSE,
            minimum=0,
            maximum=MAX_RESPONSE,
            unit="bytes",
        ),
        max_redirects=ctx.whole_number(
            table, "max_redirects", DEFAULT_MAX_REDIRECTS, minimum=0, maximum=50
        ),
        allow_cookies=ctx.flag(table, "allow_cookies", False),
        trust=configure_trust(table, ctx),
    )


@attrs.frozen
class HttpResponse:
    """What ``fetch`` resolves to in JS (bytes arrive as a ``Uint8Array``).

    :ivar url: the final URL, normalized, after redirects.
    :ivar headers: lower-case names; repeated headers joined with ``", "``.
    :ivar body: ``str`` (text), ``bytes`` or the parsed JSON value.
    :ivar charset: the codec a text body was decoded with: the ``Content-Type``
        charset, or ``utf-8`` when there is none or it is not a usable text encoding;
        ``None`` for bytes and JSON.
    """

    status: int
    status_text: str
    url: str
    redirected: bool
    headers: dict[str, str]
    body: str | bytes | Any
    charset: str | None = None


# -- argument checks (all before any network) ----------------------------------------


def _method(method: str) -> str:
    if not _TOKEN.fullmatch(method):
        raise InvalidArgs(f"method: {method!r} is not an HTTP method", data={"path": "method"})
    if method.upper() in _FORBIDDEN_METHODS:
        raise InvalidArgs(f"method: {method.upper()} is not allowed", data={"path": "method"})
    return method.upper() if method.upper() in _STANDARD_METHODS else method


def _request_headers(headers: Mapping[str, str], allow_cookies: bool) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    total = 0
    for name, value in headers.items():
        where = f"headers.{name}"
        if not _TOKEN.fullmatch(name):
            raise InvalidArgs(f"headers: {name!r} is not a header name", data={"path": where})
        lower = name.lower()
        if lower in _REFUSED_HEADERS or lower.startswith("proxy-"):
            raise InvalidArgs(f"headers: {name} cannot be set by the page", data={"path": where})
        if lower in _COOKIE_HEADERS and not allow_cookies:
            raise InvalidArgs(
                f"headers: {name} is not allowed (the app's config does not set allow_cookies)",
                data={"path": where},
            )
        if any(c in value for c in "\r\n\x00"):
            raise InvalidArgs(f"{where}: a header value cannot contain CR, LF or NUL")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise InvalidArgs(f"{where}: header values must be Latin-1 text") from None
        total += len(name) + len(value)
        if total > MAX_HEADER_BYTES:
            raise InvalidArgs(f"headers: more than {MAX_HEADER_BYTES} bytes of headers")
        out.append((name, value.strip(" \t")))
    return out


def _bounded(value: float | None, cap: float, where: str, smallest: str) -> float:
    """A per-call limit: the app's when not given; the page may lower it, never raise it."""
    if value is None:
        return cap
    if value > cap or value < 0 or (smallest == "> 0" and value == 0):
        raise InvalidArgs(
            f"{where}: must be {smallest} and at most {cap:g} in this app", data={"path": where}
        )
    return value


def _has(headers: list[tuple[str, str]], name: str) -> bool:
    return any(n.lower() == name for n, _ in headers)


# -- the exchange ---------------------------------------------------------------------


async def _open(
    trust: Trust,
    target: Target,
    addresses: tuple[IPAddress, ...],
    method: str,
    headers: list[tuple[str, str]],
    content: bytes | None,
    seconds: float,
) -> tuple[httpx.Response, httpx.AsyncHTTPTransport]:
    """Send the request to the first checked address that accepts a connection."""
    extensions: dict[str, Any] = {
        "timeout": {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}
    }
    if target.scheme == "https" and target.ip is None:
        extensions["sni_hostname"] = target.host  # SNI and the certificate check
    failure: Exception | None = None
    for address in addresses:
        transport = httpx.AsyncHTTPTransport(verify=tls_context(trust), trust_env=False, retries=0)
        request = httpx.Request(
            method,
            target.url_for(address),
            headers=[("Host", target.netloc), *headers],
            content=content,
            extensions=extensions,
        )
        try:
            response = await transport.handle_async_request(request)
        except httpx.ConnectError as e:
            await transport.aclose()
            failure = e
            if _is_tls(e):
                break  # the address answered; another address would not change the name
            continue
        except BaseException:
            await transport.aclose()
            raise
        response.request = request
        return response, transport
    if failure is None:
        raise CommandFailed(f"{target.host} has no address", data={"reason": "dns"})
    raise _failure(failure, target)


def _is_tls(e: BaseException) -> bool:
    """Whether an ``ssl`` error is behind ``e`` (httpx wraps it in a ``ConnectError``)."""
    seen: BaseException | None = e
    for _ in range(16):
        if seen is None:
            break
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _failure(e: Exception, target: Target) -> CommandError:
    """A safe, specific error for what went wrong on the wire."""
    if isinstance(e, httpx.TimeoutException):
        return CommandTimeout(f"{target.netloc} did not answer in time")
    if _is_tls(e):
        return CommandFailed(
            f"TLS with {target.host} failed (certificate not trusted or not for this name)",
            data={"reason": "tls"},
        )
    if isinstance(e, httpx.ConnectError):
        return CommandFailed(f"could not connect to {target.netloc}", data={"reason": "connect"})
    if isinstance(e, httpx.RemoteProtocolError):
        return CommandFailed(
            f"{target.netloc} sent a malformed HTTP response", data={"reason": "protocol"}
        )
    return CommandFailed(f"the connection to {target.netloc} failed", data={"reason": "connection"})


class _Decoder:
    """Content-Encoding decoding that never produces more than it is asked for."""

    def __init__(self, encoding: str) -> None:
        encoding = encoding.strip().lower()
        self.identity = encoding in ("", "identity")
        if encoding in ("gzip", "x-gzip"):
            self._wbits = 16 + zlib.MAX_WBITS
        elif encoding == "deflate":
            self._wbits = zlib.MAX_WBITS
        elif not self.identity:
            raise CommandFailed(
                f"unsupported Content-Encoding {encoding!r}", data={"reason": "encoding"}
            )
        self._inflate = None if self.identity else zlib.decompressobj(self._wbits)
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        """At most ``room`` bytes of output for ``data`` (more waiting means too large)."""
        if self._inflate is None:
            return data
        try:
            out = self._inflate.decompress(data, room)
        except zlib.error:
            if self._started or self._wbits != zlib.MAX_WBITS:
                raise CommandFailed("the response body is not validly compressed") from None
            # "deflate" is often sent raw, without the zlib header (browsers accept both).
            self._wbits = -zlib.MAX_WBITS
            self._inflate = zlib.decompressobj(self._wbits)
            out = self._inflate.decompress(data, room)
        self._started = True
        return out


async def _read_body(response: httpx.Response, limit: int, target: Target) -> bytes:
    too_large = TooLarge(
        f"the response from {target.netloc} is larger than {limit} bytes",
        data={"limit": limit},
    )
    decoder = _Decoder(response.headers.get("content-encoding", ""))
    length = response.headers.get("content-length", "")
    if decoder.identity and length.isdigit() and int(length) > limit:
        raise too_large  # refused before reading a byte of the body
    body = bytearray()
    received = 0
    async for chunk in response.aiter_raw(_CHUNK):
        received += len(chunk)
        body += decoder.feed(chunk, limit + 1 - len(body))
        if len(body) > limit or received > max(limit, _CHUNK) * 4:
            raise too_large
    return bytes(body)


def _decode(data: bytes, response: httpx.Response, response_type: str) -> tuple[Any, str | None]:
    """The body as the page asked for it, and the charset a text body was decoded with."""
    if response_type == "bytes":
        return data, None
    if response_type == "json":
        if not data.strip():
            return None, None
        try:
            return strict_loads(data), None  # as the bridge parses: inf cannot reach the page
        except (ValueError, RecursionError):
            raise CommandFailed("the response is not valid JSON", data={"reason": "json"}) from None
    # A charset the server got wrong is not the page's error: declared_charset falls back
    # to UTF-8 (the answer's ``charset`` says which codec was used).
    name, _ = declared_charset(response.headers.get("content-type", ""))
    return data.decode("utf-8-sig" if name == "utf-8" else name, errors="replace"), name


def _headers(response: httpx.Response, allow_cookies: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in response.headers.multi_items():
        lower = name.lower()
        if lower in ("set-cookie", "set-cookie2") and not allow_cookies:
            continue
        out[lower] = f"{out[lower]}, {value}" if lower in out else value
    return out


def _after_redirect(
    status: int,
    method: str,
    headers: list[tuple[str, str]],
    content: bytes | None,
    old: Target,
    new: Target,
) -> tuple[str, list[tuple[str, str]], bytes | None]:
    """What browsers do: 303 (and 301/302 after POST) become a GET without the body;
    credentials are not sent to another origin."""
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, content = "GET", None
        headers = [(n, v) for n, v in headers if n.lower() not in _BODY_HEADERS]
    if new.origin != old.origin:
        headers = [(n, v) for n, v in headers if n.lower() not in _CREDENTIAL_HEADERS]
    return method, headers, content


async def _exchange(
    state: HttpState,
    target: Target,
    method: str,
    headers: list[tuple[str, str]],
    content: bytes | None,
    limit: int,
    seconds: float,
    response_type: str,
    follow_redirects: bool,
) -> HttpResponse:
    loop = asyncio.get_running_loop()
    hops = 0
    while True:
        where = "url" if hops == 0 else f"redirect {hops}"
        addresses = await loop.run_in_executor(None, state.scope.resolve, target, where)
        try:
            response, transport = await _open(
                state.trust, target, addresses, method, headers, content, seconds
            )
        except httpx.HTTPError as e:
            raise _failure(e, target) from None
        try:
            location = response.headers.get("location")
            if follow_redirects and response.status_code in _REDIRECTS and location is not None:
                hops += 1
                if hops > state.max_redirects:
                    raise CommandFailed(
                        f"stopped after {state.max_redirects} redirects",
                        data={"reason": "redirects"},
                    )
                where = f"redirect {hops}"
                try:
                    next_url = join_url(target, location)
                except ValueError:
                    raise InvalidArgs(f"{where}: the Location header is not a URL") from None
                new = state.scope.check(next_url, where)
                method, headers, content = _after_redirect(
                    response.status_code, method, headers, content, target, new
                )
                target = new
                continue
            data = b"" if method == "HEAD" else await _read_body(response, limit, target)
            body, charset = _decode(data, response, response_type)
            return HttpResponse(
                status=response.status_code,
                status_text=response.extensions.get("reason_phrase", b"").decode("latin-1"),
                url=target.url,
                redirected=hops > 0,
                headers=_headers(response, state.allow_cookies),
                body=body,
                charset=charset,
            )
        except httpx.HTTPError as e:
            raise _failure(e, target) from None
        finally:
            await response.aclose()
            await transport.aclose()


# -- the command ----------------------------------------------------------------------


@command(timeout=MAX_TIMEOUT + 5)  # the real deadline is the call's own (see configure)
async def fetch(
    ctx: CallContext,
    url: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: str | bytes | None = None,
    timeout: float | None = None,
    max_response_bytes: int | None = None,
    response_type: Literal["text", "bytes", "json"] = "text",
    follow_redirects: bool = True,
) -> HttpResponse:
    """Send an HTTP request to a URL in the app's scope; redirects are checked hop by hop.

    ``timeout`` (seconds) and ``max_response_bytes`` may lower the app's limits, never
    raise them. A text ``body`` is sent as UTF-8 (``text/plain`` unless a Content-Type
    is given); a ``Uint8Array`` body is sent as is.
    """
    state: HttpState = ctx.state
    method = _method(method)
    request_headers = _request_headers(headers or {}, state.allow_cookies)
    seconds = _bounded(timeout, state.timeout, "timeout", "> 0")
    cap = state.max_response_bytes
    limit = int(_bounded(max_response_bytes, cap, "max_response_bytes", ">= 0"))
    content = body.encode("utf-8") if isinstance(body, str) else body
    if content is not None and method in ("GET", "HEAD"):
        raise InvalidArgs(f"body: a {method} request has no body", data={"path": "body"})
    if isinstance(body, str) and not _has(request_headers, "content-type"):
        request_headers.append(("Content-Type", "text/plain;charset=UTF-8"))
    if not _has(request_headers, "user-agent"):
        request_headers.append(("User-Agent", USER_AGENT))
    if not _has(request_headers, "accept"):
        request_headers.append(("Accept", "*/*"))
    request_headers.append(("Accept-Encoding", "gzip, deflate"))
    target = state.scope.check(url)  # refused here: no DNS, no connection
    try:
        async with asyncio.timeout(seconds):
            return await _exchange(
                state,
                target,
                method,
                request_headers,
                content,
                limit,
                seconds,
                response_type,
                follow_redirects,
            )
    except TimeoutError:
        raise CommandTimeout(f"{target.url} did not complete within {seconds:g} s") from None


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    return Capability(
        name="http",
        commands=[fetch],
        configure=configure,
        description="HTTP requests to the URLs in the scope; SSRF-checked, redirects re-checked",
    )
