"""The response body: read in chunks with a size bound, decompressed with a bound, and
decoded as the page asked (text in the declared charset, bytes, or strict JSON)."""

from __future__ import annotations

import zlib
from typing import Any

import httpx

from ramparts import CommandFailed, TooLarge, strict_loads
from ramparts.toolkit import Target, declared_charset

__all__ = ["Decoder", "decode_body", "read_body"]

_CHUNK = 64 * 1024


class Decoder:
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


async def read_body(response: httpx.Response, limit: int, target: Target) -> bytes:
    too_large = TooLarge(
        f"the response from {target.netloc} is larger than {limit} bytes",
        data={"limit": limit},
    )
    decoder = Decoder(response.headers.get("content-encoding", ""))
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


def decode_body(
    data: bytes, response: httpx.Response, response_type: str
) -> tuple[Any, str | None]:
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
