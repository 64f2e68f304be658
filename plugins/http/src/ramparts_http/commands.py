"""``http.fetch``: the page's arguments, checked before any network, then the exchange."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Literal

from ramparts import CallContext, CommandTimeout, InvalidArgs, command

from .config import MAX_TIMEOUT, HttpState
from .exchange import HttpResponse, exchange

__all__ = ["MAX_HEADER_BYTES", "USER_AGENT", "fetch"]

MAX_HEADER_BYTES = 64 * 1024
USER_AGENT = "ramparts-http/0.1"

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
            return await exchange(
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
