"""The bridge's wire format: signed envelopes on two carriers, and replay protection.

Page -> Python messages are JSON headers signed with HMAC-SHA256 under the session key:

* **channel carrier** (JSON-only calls and events): the text ``<mac>.<json>``, where
  ``mac`` is base64url(HMAC(key, b"C" + json)).
* **binary carrier** (calls whose signature has ``bytes``): a POST body
  ``mac[32] | u32 header_len | header json | segment0 | segment1 ...`` with
  ``mac = HMAC(key, b"B" + everything after the mac)``; ``{"$bytes": i}`` in the
  arguments stands for segment ``i`` and ``header.b`` lists the segment lengths.

The header is ``{"s": seq, "h": handle, "c": callback_id, "a": args}`` for a call and
``{"s": seq, "e": event, "p": payload}`` for an event. ``seq`` is accepted once per
session (a sliding window tolerates the reordering two carriers cause). Replies are not
signed: they travel on paths no page script can reach (see docs/bridge-protocol.md).

Every number must be a finite double, both ways: ``NaN``, ``Infinity`` and literals
beyond the range of a double (``1e400``, which JS reads as ``Infinity``; a page's
``toJSON`` can emit one with ``JSON.rawJSON``) are refused by :func:`strict_loads`, and
in a call's arguments become an ``invalid_args`` answer (:meth:`Message.arguments`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import math
import operator
import re
import struct
from typing import Any

import attrs
import orjson

from ramparts.errors import InvalidArgs

__all__ = [
    "MAX_BINARY_MESSAGE",
    "Message",
    "NotJson",
    "ProtocolError",
    "ReplayWindow",
    "Unserializable",
    "decode_binary",
    "decode_binary_reply",
    "decode_channel",
    "encode_binary_reply",
    "encode_channel_reply",
    "page_deadline_ms",
    "sign_binary",
    "sign_channel",
    "split_segments",
    "strict_loads",
]

MAX_CHANNEL_MESSAGE = 32 * 1024 * 1024
#: Largest binary-carrier body accepted (the webview allocates it before the MAC check).
MAX_BINARY_MESSAGE = 512 * 1024 * 1024
MAX_JSON_DEPTH = 64
_MAC_LEN = 32
_B64_MAC_LEN = 43  # base64url of 32 bytes, no padding


class ProtocolError(Exception):
    """A message that is malformed, forged, replayed or too large. Never reaches a command.

    ``reason`` is a short internal tag for logs and tests; the page only learns
    ``rejected``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@attrs.frozen
class Message:
    """A verified message.

    :ivar refused: ``(literal, path)`` of the first number in ``args`` that JSON cannot
        carry, if any: the call is answered ``invalid_args`` (see :meth:`arguments`).
    """

    seq: int
    handle: str | None
    callback: str | None
    args: Any
    event: str | None
    payload: Any
    refused: tuple[str, str] | None = None

    def arguments(self) -> Any:
        """The call's arguments; :class:`InvalidArgs` if one is not a finite number.

        Checked after the handle, like the arguments' types: the page learns nothing
        about a command it cannot call.
        """
        if self.refused is not None:
            literal, path = self.refused
            raise InvalidArgs(
                f"{path or 'arguments'}: {literal} is not a number JSON can carry"
                " (NaN, Infinity and numbers beyond the range of a double are refused)",
                data={"path": path, "expected": "finite number"},
            )
        return self.args


# -- strict JSON ------------------------------------------------------------------------


class NotJson(ValueError):
    """A document holding a number JSON cannot carry (see :func:`strict_loads`)."""

    def __init__(self, literal: str, path: str) -> None:
        super().__init__(f"{path or 'the document'}: {literal} is not a finite number")
        self.literal = literal
        self.path = path


@attrs.frozen
class _Refused:
    """Stands in for a refused number until the walk that finds its path."""

    literal: str


# A number can only overflow a double (max 1.8e308) with an exponent of 3 or more digits,
# or an integer part of 200 or more (10**199 * 10**99 is still finite). The scan for those
# runs maps every byte to "0" (a digit), "e", "+" (a sign) or " ", so that the search
# starts at the rare "e" (a regular expression over the raw text cost 30 ms per MB).
_SCAN = bytes(
    ord("0") if c in b"0123456789" else ord("e") if c in b"eE" else ord("+") if c in b"+-" else 32
    for c in range(256)
)
_LONG_EXPONENT = re.compile(rb"e\+?000")
_LONG_NUMBER = b"0" * 200
_DOUBLE_DIGITS = 309  # every integer of 310 digits or more is past the largest double
# orjson reads an integer past 64 bits (from 19 digits on, for negative ones) as a float,
# where json keeps the int: such documents, and any 19-digit run, go to json.
_ORJSON_DIGITS = b"0" * 19


class _Constant(Exception):
    """``NaN`` or ``Infinity`` met on the fast path: parse again, slowly."""


def _constant(name: str) -> Any:
    raise _Constant(name)


def _parse(raw: bytes | str) -> tuple[Any, bool]:
    """``raw`` parsed, with each refused number as a :class:`_Refused`; and whether any.

    Documents with no long exponent and no long digit run (nearly all) go through
    orjson (or, where it cannot read them as json would, json's C parser) untouched; the
    others get a hook per number.
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    # A bridge header is UTF-8 and starts with "{"; anything else (UTF-16/32 or a BOM, as
    # a server may send) is made UTF-8 first: the scan below reads UTF-8 bytes.
    if not data.startswith(b"{") or data[1:2] == b"\x00":
        encoding = json.detect_encoding(data)
        data = data.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")
    scan = data.translate(_SCAN)
    if _LONG_EXPONENT.search(scan) is None and _LONG_NUMBER not in scan:
        if _ORJSON_DIGITS not in scan:
            try:
                return orjson.loads(data), False
            except orjson.JSONDecodeError:
                pass  # NaN, a lone surrogate, nesting past 1024 ...: json decides, below
        try:
            return json.loads(data, parse_constant=_constant), False
        except _Constant:
            pass
    refused = False

    def refuse(literal: str) -> _Refused:
        nonlocal refused
        refused = True
        return _Refused(literal if len(literal) <= 24 else literal[:20] + "...")

    def number(literal: str) -> Any:
        value = float(literal)  # 1e400 is inf; 1e-400 is 0.0, as in JS (kept: it is finite)
        return value if math.isfinite(value) else refuse(literal)

    def integer(literal: str) -> Any:
        if len(literal) < 300:  # the common case, and always finite as a double
            return int(literal)
        if len(literal.lstrip("-")) > _DOUBLE_DIGITS:  # also spares int() its 4300-digit cap
            return refuse(literal)
        value = int(literal)
        try:
            float(value)  # what JS's JSON.parse would make of it
        except OverflowError:
            return refuse(literal)
        return value

    value = json.loads(data, parse_float=number, parse_int=integer, parse_constant=refuse)
    return value, refused


def _find_refused(value: Any) -> tuple[str, str] | None:
    """``(literal, path)`` of the first :class:`_Refused` in ``value`` (paths as
    validation writes them: ``a.b[2]``). Iterative: any depth json can parse."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, _Refused):
            return v.literal, path
        if isinstance(v, dict):
            stack += [(f"{path}.{k}" if path else k, x) for k, x in reversed(v.items())]
        elif isinstance(v, list):
            stack += [(f"{path}[{i}]", x) for i, x in reversed(list(enumerate(v)))]
    return None


def strict_loads(raw: bytes | str) -> Any:
    """Parse JSON the way Ramparts parses everything a page or server sends.

    Refuses (:class:`NotJson`, a ``ValueError``) ``NaN``, ``Infinity``, ``-Infinity`` and
    number literals beyond the range of a double (``1e400``, an integer of 310 digits):
    JS would read them as ``Infinity`` or not at all, and Python would hand a command
    ``inf`` or an integer no JS number equals. Underflow (``1e-400``) is ``0.0``, as in
    JS. Lone surrogates (``"\\ud800"``) and duplicate keys (the last wins) are accepted:
    see docs/bridge-protocol.md. Other errors are json's own ``ValueError``.
    """
    value, refused = _parse(raw)
    if refused:
        found = _find_refused(value)
        assert found is not None
        raise NotJson(*found)
    return value


def _mac(key: bytes, tag: bytes, data: bytes | memoryview) -> bytes:
    h = hmac.new(key, tag, hashlib.sha256)
    h.update(data)
    return h.digest()


def sign_channel(key: bytes, header: str) -> str:
    """What the bootstrap does, in Python: used by tests and the fuzzer."""
    mac = base64.urlsafe_b64encode(_mac(key, b"C", header.encode())).rstrip(b"=").decode()
    return f"{mac}.{header}"


def sign_binary(key: bytes, header: dict[str, Any], segments: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
    header = {**header, "b": [len(s) for s in segments]}
    hj = json.dumps(header, separators=(",", ":")).encode()
    rest = struct.pack(">I", len(hj)) + hj + b"".join(segments)
    return _mac(key, b"B", rest) + rest


def _held(dicts: list[Any], seqs: list[Any]) -> list[Any]:
    """Every value the dicts and sequences hold, one level down, flattened in C."""
    chain = itertools.chain.from_iterable
    return list(itertools.chain(chain(map(dict.values, dicts)), chain(seqs)))


def _of_kinds(level: list[Any], kinds: list[type], *wanted: type) -> list[Any]:
    """The values of ``level`` whose type (``kinds``, in the same order) is one of
    ``wanted``, kind by kind; each pass is C (``compress`` over ``operator.is_``)."""
    present = set(kinds)
    return [
        v
        for kind in wanted
        if kind in present
        for v in itertools.compress(level, map(operator.is_, kinds, itertools.repeat(kind)))
    ]


def _check_depth(value: Any) -> None:
    """Refuse anything nested deeper than ``MAX_JSON_DEPTH`` (the header is level 0).

    Walks level by level with the per-value work in C (``map``, ``compress``, ``chain``):
    a Python loop per value cost 15 ms for a 1 MB document of small records.
    """
    level = [value]
    for _ in range(MAX_JSON_DEPTH + 1):
        kinds = list(map(type, level))  # json makes exact dicts and lists only
        dicts, lists = _of_kinds(level, kinds, dict), _of_kinds(level, kinds, list)
        if not dicts and not lists:
            return
        level = _held(dicts, lists)
    if level:
        raise ProtocolError("too-deep")


def _parse_header(raw: bytes) -> tuple[dict[str, Any], bool]:
    """The header, and whether it holds refused numbers (see :func:`_parse`)."""
    try:
        header, refused = _parse(raw)
    except (ValueError, RecursionError):
        raise ProtocolError("bad-json") from None
    if not isinstance(header, dict):
        raise ProtocolError("bad-header")
    # Nesting needs an opening bracket per level, so a header with few of them cannot be
    # too deep: two counts in C spare the walk for nearly every message.
    if raw.count(b"{") + raw.count(b"[") > MAX_JSON_DEPTH:
        _check_depth(header)
    return header, refused


def _message(header: dict[str, Any], segments: list[memoryview] | None, refused: bool) -> Message:
    seq = header.get("s")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 < seq < 2**53:
        raise ProtocolError("bad-seq")
    if "e" in header:
        event = header["e"]
        if not isinstance(event, str) or set(header) - {"s", "e", "p"}:
            raise ProtocolError("bad-event")
        if refused:  # an event has no answer to carry invalid_args: dropped
            raise ProtocolError("not-json")
        return Message(seq, None, None, None, event, header.get("p"))
    handle, callback = header.get("h"), header.get("c")
    if not isinstance(handle, str) or not isinstance(callback, str) or len(callback) > 64:
        raise ProtocolError("bad-call")
    if set(header) - {"s", "h", "c", "a", "b"}:
        raise ProtocolError("bad-call")
    args = header.get("a", {})
    if segments:  # a large JSON-only call comes by the binary carrier with none: no walk
        args = _splice(args, segments)
    # s, h, c and b were checked above: a refused number there is already refused.
    return Message(
        seq, handle, callback, args, None, None, _find_refused(args) if refused else None
    )


def _splice(value: Any, segments: list[memoryview]) -> Any:
    """Replace ``{"$bytes": i}`` placeholders with the binary segments."""
    if isinstance(value, dict):
        if "$bytes" in value:
            i = value["$bytes"]
            if len(value) != 1 or not isinstance(i, int) or not 0 <= i < len(segments):
                raise ProtocolError("bad-segment-ref")
            return segments[i]
        return {k: _splice(v, segments) for k, v in value.items()}
    if isinstance(value, list):
        return [_splice(v, segments) for v in value]
    return value


def decode_channel(key: bytes, text: Any) -> Message:
    """Verify and decode a channel-carrier message. Raises :class:`ProtocolError`."""
    if not isinstance(text, str) or len(text) > MAX_CHANNEL_MESSAGE:
        raise ProtocolError("bad-size")
    if len(text) < _B64_MAC_LEN + 2 or text[_B64_MAC_LEN] != ".":
        raise ProtocolError("bad-framing")
    header = text[_B64_MAC_LEN + 1 :]
    try:
        got = base64.urlsafe_b64decode(text[:_B64_MAC_LEN] + "=")
    except ValueError:
        raise ProtocolError("bad-mac") from None
    try:
        header_bytes = header.encode()
    except UnicodeEncodeError:
        raise ProtocolError("bad-json") from None
    if not hmac.compare_digest(got, _mac(key, b"C", header_bytes)):
        raise ProtocolError("bad-mac")
    parsed, refused = _parse_header(header_bytes)
    if "b" in parsed:
        raise ProtocolError("bad-call")
    return _message(parsed, None, refused)


def decode_binary(key: bytes, body: bytes | memoryview) -> Message:
    """Verify and decode a binary-carrier body. Raises :class:`ProtocolError`."""
    view = memoryview(body)
    if len(view) > MAX_BINARY_MESSAGE:
        raise ProtocolError("bad-size")
    if len(view) < _MAC_LEN + 4:
        raise ProtocolError("bad-framing")
    if not hmac.compare_digest(bytes(view[:_MAC_LEN]), _mac(key, b"B", view[_MAC_LEN:])):
        raise ProtocolError("bad-mac")
    (hlen,) = struct.unpack(">I", view[_MAC_LEN : _MAC_LEN + 4])
    start = _MAC_LEN + 4
    if start + hlen > len(view):
        raise ProtocolError("bad-framing")
    header, refused = _parse_header(bytes(view[start : start + hlen]))
    lengths = header.get("b", [])
    if not isinstance(lengths, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in lengths
    ):
        raise ProtocolError("bad-segments")
    pos = start + hlen
    if pos + sum(lengths) != len(view):
        raise ProtocolError("bad-segments")  # truncated or padded
    segments = []
    for n in lengths:
        segments.append(view[pos : pos + n])
        pos += n
    return _message(header, segments, refused)


class ReplayWindow:
    """Accept each sequence number once (a 4096-wide sliding window, as in IPsec)."""

    WIDTH = 4096
    _FULL = (1 << WIDTH) - 1

    def __init__(self) -> None:
        self.highest = 0
        self.mask = 0  # bit i set: highest - i was seen

    def accept(self, seq: int) -> bool:
        if seq > self.highest:
            shift = seq - self.highest
            # A jump past the window leaves only the new number in it. Shifting by the
            # jump itself (up to 2**53 for a header the page had signed) would build an
            # integer of that many bits: memory and CPU for as long as the allocation ran.
            self.mask = 1 if shift >= self.WIDTH else ((self.mask << shift) | 1) & self._FULL
            self.highest = seq
            return True
        offset = self.highest - seq
        if offset >= self.WIDTH or self.mask >> offset & 1:
            return False
        self.mask |= 1 << offset
        return True


class Unserializable(Exception):
    """A command returned something JSON cannot carry."""


_LEAVES = frozenset({str, int, bool, type(None)})


def _to_wire(value: Any, segments: list[bytes] | None, depth: int = 0) -> Any:
    if depth > MAX_JSON_DEPTH:
        raise Unserializable("nested too deeply")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unserializable("a non-finite float")
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        if segments is None:
            raise Unserializable("bytes (annotate the command's return type with bytes)")
        segments.append(bytes(value) if not isinstance(value, bytes) else value)
        return {"$bytes": len(segments) - 1}
    if isinstance(value, dict):
        if "$bytes" in value:
            raise Unserializable("a dict with the reserved key '$bytes'")
        out = {}
        deep_ok = depth < MAX_JSON_DEPTH
        for k, v in value.items():
            if not isinstance(k, str):
                raise Unserializable(f"a dict key of type {type(k).__name__}")
            # Plain str/int/bool/None leaves pass as they are, without a call per leaf.
            out[k] = v if type(v) in _LEAVES and deep_ok else _to_wire(v, segments, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        deep_ok = depth < MAX_JSON_DEPTH
        return [
            v if type(v) in _LEAVES and deep_ok else _to_wire(v, segments, depth + 1) for v in value
        ]
    if attrs.has(type(value)):
        return _to_wire(attrs.asdict(value, recurse=False), segments, depth + 1)
    raise Unserializable(f"a value of type {type(value).__name__}")


_PLAIN_KINDS = _LEAVES | {float, dict, list, tuple}
_FEW = 24  # values in a level below which a plain loop beats the C-level passes


def _plain(value: Any) -> bool:
    """Whether the JSON writer can write ``value`` as :func:`_to_wire` would return it.

    True for exact dicts (str keys, no ``$bytes``), lists and tuples, nested at most
    ``MAX_JSON_DEPTH``, holding only str, int, finite floats, bool and None; anything
    else (bytes, attrs instances, other types, NaN) takes :func:`_to_wire`'s walk, which
    copies or refuses it. Level by level: a loop for a few values, C-level passes for
    many (a 1 MB document of small records: 13 ms, against 15 ms for the loop alone).
    """
    level = [value]
    for _ in range(MAX_JSON_DEPTH + 1):
        found = _plain_few(level) if len(level) < _FEW else _plain_many(level)
        if found is None:
            return False
        dicts, seqs = found
        if not dicts and not seqs:
            return True
        try:
            "".join(itertools.chain.from_iterable(dicts))  # fails on a key that is no str
        except TypeError:
            return False
        if any(map(operator.contains, dicts, itertools.repeat("$bytes"))):
            return False
        level = _held(dicts, seqs)
    return False


def _plain_few(level: list[Any]) -> tuple[list[Any], list[Any]] | None:
    """The dicts and the lists and tuples of ``level``; ``None`` if a value is not plain."""
    dicts: list[Any] = []
    seqs: list[Any] = []
    for v in level:
        t = type(v)
        if t is dict:
            dicts.append(v)
        elif t is list or t is tuple:
            seqs.append(v)
        elif t is float:
            if not math.isfinite(v):
                return None
        elif t not in _LEAVES:
            return None
    return dicts, seqs


def _plain_many(level: list[Any]) -> tuple[list[Any], list[Any]] | None:
    """:func:`_plain_few` with the per-value work in C."""
    kinds = list(map(type, level))
    present = set(kinds)
    if not present <= _PLAIN_KINDS:
        return None
    if float in present and not math.isfinite(sum(_of_kinds(level, kinds, float))):
        return None  # an inf or a NaN makes the sum so (an overflow too: walked)
    return _of_kinds(level, kinds, dict), _of_kinds(level, kinds, list, tuple)


def _wire(reply: dict[str, Any], segments: list[bytes] | None) -> Any:
    """``reply`` ready for :func:`_json_text`: as it is when it is plain (see :func:`_plain`),
    else through :func:`_to_wire`."""
    return reply if _plain(reply) else _to_wire(reply, segments)


def split_segments(value: Any) -> tuple[Any, list[bytes]]:
    """``value`` with each bytes-like value replaced by ``{"$bytes": i}``, and the segments.

    What the bootstrap does to a call's arguments before it signs a binary-carrier
    message (:func:`sign_binary` takes the result). Raises :class:`Unserializable` for
    what JSON cannot carry.
    """
    segments: list[bytes] = []
    return _to_wire(value, segments), segments


def _json_text(wire: Any) -> bytes:
    """``wire`` as compact UTF-8 JSON (the webview carries it as UTF-8).

    ``wire`` is :func:`_wire`'s: plain values only, every float finite (orjson would
    write NaN as ``null``). A string may hold a lone surrogate (JSON's ``\\udc2a``
    escapes make them, and page JS strings can carry them), which UTF-8 cannot encode:
    such a document is written with ASCII escapes instead, which JS's ``JSON.parse``
    turns back into the same string; json writes it, as it does integers past 64 bits.
    """
    try:
        return orjson.dumps(wire)
    except TypeError:  # a lone surrogate, an integer past 64 bits
        pass
    try:
        text = json.dumps(wire, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:  # defence in depth: _wire lets no non-finite float through
        raise Unserializable("a non-finite float") from None
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(wire, separators=(",", ":")).encode()


def encode_channel_reply(reply: dict[str, Any]) -> str:
    """JSON text of a reply or event. Raises :class:`Unserializable`."""
    return _json_text(_wire(reply, None)).decode()


def encode_binary_reply(reply: dict[str, Any]) -> list[bytes]:
    """A reply for the binary carrier, as chunks to concatenate (no big copies)."""
    segments: list[bytes] = []
    wire = {**_wire(reply, segments), "b": None}
    wire["b"] = [len(s) for s in segments]
    hj = _json_text(wire)
    return [struct.pack(">I", len(hj)), hj, *segments]


def decode_binary_reply(body: bytes) -> dict[str, Any]:
    """What the bootstrap does with a binary-carrier reply, in Python (for tests).

    ``{"$bytes": i}`` placeholders become ``bytes``.
    """
    (hlen,) = struct.unpack(">I", body[:4])
    header = json.loads(body[4 : 4 + hlen])
    pos = 4 + hlen
    segments = []
    for n in header.pop("b", []):
        segments.append(memoryview(body)[pos : pos + n])
        pos += n
    reply: dict[str, Any] = _materialize(_splice(header, segments))
    return reply


def _materialize(value: Any) -> Any:
    if isinstance(value, memoryview):
        return value.tobytes()
    if isinstance(value, dict):
        return {k: _materialize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_materialize(v) for v in value]
    return value


#: Seconds the page waits for a reply beyond 1.5 times the command's timeout.
DEADLINE_SLACK = 1.0
_MAX_TIMER_MS = 2**31 - 1  # setTimeout's limit: a longer delay would fire at once


def page_deadline_ms(timeout: float) -> int | None:
    """How long the page waits for a call to a command with ``timeout``; None: forever."""
    if not math.isfinite(timeout):
        return None
    ms = math.ceil((timeout * 1.5 + DEADLINE_SLACK) * 1000)
    return ms if ms <= _MAX_TIMER_MS else None
