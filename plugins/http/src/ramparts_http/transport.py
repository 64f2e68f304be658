"""One connection per hop, to an address the scope checked, and what its failures mean.

The request URL carries the checked IP; the ``Host`` header and TLS (SNI and the
certificate's name check) carry the host name, so nothing resolves the name again.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from ramparts import CommandError, CommandFailed, CommandTimeout
from ramparts.toolkit import IPAddress, Target

from .tls import Trust, tls_context

__all__ = ["failure", "is_tls", "send"]


async def send(
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
    last_error: Exception | None = None
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
            last_error = e
            if is_tls(e):
                break  # the address answered; another address would not change the name
            continue
        except BaseException:
            await transport.aclose()
            raise
        response.request = request
        return response, transport
    if last_error is None:
        raise CommandFailed(f"{target.host} has no address", data={"reason": "dns"})
    raise failure(last_error, target)


def is_tls(e: BaseException) -> bool:
    """Whether an ``ssl`` error is behind ``e`` (httpx wraps it in a ``ConnectError``)."""
    seen: BaseException | None = e
    for _ in range(16):
        if seen is None:
            break
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def failure(e: Exception, target: Target) -> CommandError:
    """A safe, specific error for what went wrong on the wire."""
    if isinstance(e, httpx.TimeoutException):
        return CommandTimeout(f"{target.netloc} did not answer in time")
    if is_tls(e):
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
