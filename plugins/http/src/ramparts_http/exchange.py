"""One request and the redirects it follows: each hop re-checked by the scope, with the
changes browsers make on the way (method, body and credential headers)."""

from __future__ import annotations

import asyncio
from typing import Any

import attrs
import httpx

from ramparts import CommandFailed, InvalidArgs
from ramparts.toolkit import Target, join_url

from .body import decode_body, read_body
from .config import HttpState
from .transport import failure, send

__all__ = ["HttpResponse", "exchange"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_BODY_HEADERS = ("content-type", "content-encoding", "content-language", "content-location")
_CREDENTIAL_HEADERS = ("authorization", "cookie", "cookie2")


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


async def exchange(
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
            response, transport = await send(
                state.trust, target, addresses, method, headers, content, seconds
            )
        except httpx.HTTPError as e:
            raise failure(e, target) from None
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
            data = b"" if method == "HEAD" else await read_body(response, limit, target)
            body, charset = decode_body(data, response, response_type)
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
            raise failure(e, target) from None
        finally:
            await response.aclose()
            await transport.aclose()
