"""Envelope authentication, framing and replay protection, without a webview."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typed_json import typed

from ramparts.bridge.protocol import (
    ProtocolError,
    ReplayWindow,
    Unserializable,
    decode_binary,
    decode_channel,
    encode_binary_reply,
    encode_channel_reply,
    sign_binary,
    sign_channel,
    split_segments,
)

KEY = secrets.token_bytes(32)


def call(seq: int = 1, **extra: object) -> str:
    return json.dumps({"s": seq, "h": "handle", "c": "cb", "a": {"x": 1}, **extra})


def test_channel_roundtrip() -> None:
    msg = decode_channel(KEY, sign_channel(KEY, call(7)))
    assert (msg.seq, msg.handle, msg.callback, msg.args) == (7, "handle", "cb", {"x": 1})


def test_event_message() -> None:
    msg = decode_channel(KEY, sign_channel(KEY, json.dumps({"s": 1, "e": "saved", "p": [1]})))
    assert (msg.event, msg.payload, msg.handle) == ("saved", [1], None)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (sign_channel(secrets.token_bytes(32), call()), "bad-mac"),  # another session's key
        (
            sign_channel(KEY, call()).replace('"x": 1', '"x": 2'),
            "bad-mac",
        ),  # tampered after signing
        ("x" * 43 + "." + call(), "bad-mac"),
        ("short", "bad-framing"),
        (42, "bad-size"),
        (sign_channel(KEY, "[1, 2]"), "bad-header"),
        (sign_channel(KEY, "{not json"), "bad-json"),
        (sign_channel(KEY, json.dumps({"s": 0, "h": "h", "c": "c"})), "bad-seq"),
        (sign_channel(KEY, json.dumps({"s": True, "h": "h", "c": "c"})), "bad-seq"),
        (sign_channel(KEY, json.dumps({"s": 1, "h": 5, "c": "c"})), "bad-call"),
        (sign_channel(KEY, call(1, z=1)), "bad-call"),
        (sign_channel(KEY, call(1, b=[1])), "bad-call"),  # segments only on the binary carrier
        (sign_channel(KEY, json.dumps({"s": 1, "e": "x", "h": "y"})), "bad-event"),
        # NaN in the arguments is an invalid_args answer (test_strict_json.py); in the
        # header's own fields it is a malformed header.
        (sign_channel(KEY, '{"s":NaN,"h":"h","c":"c","a":{}}'), "bad-seq"),
        (sign_channel(KEY, '{"s":1,"h":"h","c":"c","a":{"x":1}'), "bad-json"),
        (
            sign_channel(KEY, '{"s":1,"h":"h","c":"c","a":' + "[" * 100 + "]" * 100 + "}"),
            "too-deep",
        ),
    ],
)
def test_channel_rejections(text: object, reason: str) -> None:
    with pytest.raises(ProtocolError) as err:
        decode_channel(KEY, text)
    assert err.value.reason == reason


def _nested(levels: int, inner: str, mixed: bool) -> str:
    """Arguments whose innermost value ``inner`` sits ``levels`` containers deep (the
    arguments themselves are the first, at depth 1 under the header)."""
    text = inner
    for i in range(levels):
        text = f'{{"k{i}":{text},"x":1}}' if mixed and i % 2 else f"[0,{text}]"
    return text


@pytest.mark.parametrize("mixed", [False, True])
@pytest.mark.parametrize(
    ("levels", "inner", "ok"),
    [(63, "1", True), (63, "[]", True), (63, "{}", True), (63, "[1]", False), (64, "1", False)],
)
def test_the_nesting_limit_is_exact(levels: int, inner: str, ok: bool, mixed: bool) -> None:
    """Nothing may sit deeper than MAX_JSON_DEPTH (64) under the header: a value at depth
    64 is fine, an empty container there too, anything at 65 is refused."""
    from ramparts.bridge import protocol

    assert protocol.MAX_JSON_DEPTH == 64
    header = f'{{"s":1,"h":"h","c":"c","a":{_nested(levels, inner, mixed)}}}'
    if ok:
        assert decode_channel(KEY, sign_channel(KEY, header)).handle == "h"
    else:
        with pytest.raises(ProtocolError, match="too-deep"):
            decode_channel(KEY, sign_channel(KEY, header))


def test_binary_roundtrip_with_segments() -> None:
    body = sign_binary(
        KEY,
        {"s": 3, "h": "h", "c": "c", "a": {"d": {"$bytes": 0}, "l": [{"$bytes": 1}]}},
        [b"\x00\x01\x02", b"xyz"],
    )
    msg = decode_binary(KEY, body)
    assert bytes(msg.args["d"]) == b"\x00\x01\x02" and bytes(msg.args["l"][0]) == b"xyz"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda b: b[:-1], "bad-mac"),  # truncated: the MAC covers every byte
        (lambda b: b + b"\x00", "bad-mac"),
        (lambda b: b[:10], "bad-framing"),
        (lambda b: bytes([b[0] ^ 1]) + b[1:], "bad-mac"),
        (lambda b: b[:40] + bytes([b[40] ^ 1]) + b[41:], "bad-mac"),
    ],
)
def test_binary_rejections(mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    body = sign_binary(KEY, {"s": 1, "h": "h", "c": "c", "a": {"d": {"$bytes": 0}}}, [b"payload"])
    with pytest.raises(ProtocolError) as err:
        decode_binary(KEY, mutate(body))
    assert err.value.reason == reason


def test_split_segments_then_sign_decodes_to_the_same_arguments() -> None:
    """What the bootstrap's collect() does before signing, done in Python (testing.Bridge)."""
    args = {"name": "a", "data": b"\x00\x01", "more": [bytearray(b"xy"), {"z": memoryview(b"q")}]}
    wire, segments = split_segments(args)
    assert wire == {
        "name": "a",
        "data": {"$bytes": 0},
        "more": [{"$bytes": 1}, {"z": {"$bytes": 2}}],
    }
    assert segments == [b"\x00\x01", b"xy", b"q"]
    msg = decode_binary(KEY, sign_binary(KEY, {"s": 1, "h": "h", "c": "c", "a": wire}, segments))
    assert msg.args["data"] == b"\x00\x01" and msg.args["more"][1]["z"] == b"q"
    with pytest.raises(Unserializable, match="non-finite"):
        split_segments({"x": float("nan")})


def test_binary_segment_lengths_and_references_are_checked() -> None:
    bad_ref = sign_binary(KEY, {"s": 1, "h": "h", "c": "c", "a": {"d": {"$bytes": 3}}}, [b"x"])
    with pytest.raises(ProtocolError, match="bad-segment-ref"):
        decode_binary(KEY, bad_ref)
    # A signed body whose header lies about the segment lengths.
    import hashlib
    import hmac
    import struct

    hj = json.dumps({"s": 1, "h": "h", "c": "c", "a": {}, "b": [100]}).encode()
    rest = struct.pack(">I", len(hj)) + hj + b"short"
    body = hmac.new(KEY, b"B" + rest, hashlib.sha256).digest() + rest
    with pytest.raises(ProtocolError, match="bad-segments"):
        decode_binary(KEY, body)


def test_carriers_are_domain_separated() -> None:
    """A channel MAC is no good on the binary carrier, and the other way round."""
    header = call()
    text = sign_channel(KEY, header)
    with pytest.raises(ProtocolError):
        decode_binary(KEY, text.encode())


def test_replay_window() -> None:
    w = ReplayWindow()
    assert w.accept(1) and not w.accept(1)
    assert w.accept(5) and w.accept(3) and not w.accept(3)  # reordered once, not twice
    assert w.accept(5000)
    assert not w.accept(5000 - ReplayWindow.WIDTH)  # fell out of the window
    assert w.accept(5000 - ReplayWindow.WIDTH + 1)
    assert not w.accept(4)


def test_replies_encode_bytes_only_on_the_binary_carrier() -> None:
    from ramparts.bridge.protocol import Unserializable

    with pytest.raises(Unserializable, match="bytes"):
        encode_channel_reply({"r": b"x"})
    chunks = encode_binary_reply({"c": "cb", "ok": True, "r": {"data": b"\x00" * 5}})
    header = json.loads(chunks[1])
    assert (
        header["r"] == {"data": {"$bytes": 0}} and header["b"] == [5] and chunks[2] == b"\x00" * 5
    )
    with pytest.raises(Unserializable):
        encode_channel_reply({"r": float("nan")})
    with pytest.raises(Unserializable):
        encode_channel_reply({"r": {1: "int key"}})


def test_results_may_not_forge_binary_placeholders() -> None:
    from ramparts.bridge.protocol import Unserializable

    for encode in (encode_channel_reply, encode_binary_reply):
        with pytest.raises(Unserializable, match=r"\$bytes"):
            encode({"r": {"$bytes": 0}})


def test_a_huge_jump_in_sequence_numbers_costs_nothing() -> None:
    """Found by the fuzzer: a signed header with ``s`` near 2**53 made the window shift
    its bitmask by that many bits (a MemoryError, or gigabytes for a smaller jump)."""
    w = ReplayWindow()
    assert w.accept(1) and w.accept(3)
    assert w.accept(2**52) and w.mask == 1
    assert not w.accept(2**52) and not w.accept(3)  # seen; below the window
    assert w.accept(2**52 - 1) and w.accept(2**52 - ReplayWindow.WIDTH + 1)
    assert not w.accept(2**52 - ReplayWindow.WIDTH)
    assert w.accept(2**52 + ReplayWindow.WIDTH) and w.mask == 1  # exactly one width on


def test_replies_carry_lone_surrogates_as_json_escapes() -> None:
    """Found by the fuzzer: a command that returned a string with a lone surrogate (JSON
    escapes make them) broke the binary reply's UTF-8 encoding, so the call was never
    answered. Both encoders now fall back to ASCII escapes, which JSON.parse turns back
    into the same string."""
    value = "a\udc2a\u00e9"
    text = encode_channel_reply({"c": "x", "ok": True, "r": value})
    assert json.loads(text)["r"] == value and "\\udc2a" in text
    chunks = encode_binary_reply({"c": "x", "ok": True, "r": [value, b"raw"]})
    body = b"".join(chunks)
    assert json.loads(body[4 : 4 + int.from_bytes(body[:4], "big")])["r"][0] == value
    plain = encode_channel_reply({"c": "x", "ok": True, "r": "\u00e9"})
    assert plain == '{"c":"x","ok":true,"r":"\u00e9"}'  # the usual case stays UTF-8


def test_plain_replies_take_the_fast_path_and_write_what_the_walk_writes() -> None:
    """A reply of exact dicts, lists, tuples and plain leaves is written by json.dumps
    directly (no copy of the document); it must read the same as through _to_wire."""
    from ramparts.bridge import protocol

    records = [
        {"id": i, "name": f"n{i}", "tags": ("a", "b"), "ok": i % 2 == 0, "r": i / 8}
        for i in range(50)
    ]
    deep: Any = "leaf"
    for _ in range(protocol.MAX_JSON_DEPTH - 1):  # the reply is level 0, "r" level 1
        deep = [deep]
    for value in ({"items": records}, deep, "\u00e9", None, 1.5):
        reply = {"c": "x", "ok": True, "r": value}
        assert protocol._plain(reply)
        walked = protocol._json_text(protocol._to_wire(reply, None)).decode()
        assert encode_channel_reply(reply) == walked
        chunks = encode_binary_reply(reply)
        assert json.loads(chunks[1]) == {**json.loads(walked), "b": []}


reply_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and the infinities included: refused on every path
    | st.text()
    | st.binary(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=3) | st.integers(), inner, max_size=4)
        | st.dictionaries(st.just("$bytes"), inner, max_size=1)
    ),
    max_leaves=24,
)


@given(reply_values)
def test_every_reply_is_written_as_the_walk_would_write_it(value: Any) -> None:
    """The fast path (_plain, then orjson) and the walk (_to_wire, then json) agree on
    what they refuse and on every value and type they write, on both carriers."""
    from ramparts.bridge import protocol
    from ramparts.bridge.protocol import Unserializable

    reply = {"c": "x", "ok": True, "r": value}
    try:
        segments: list[bytes] = []
        walked = json.dumps(protocol._to_wire(reply, segments), allow_nan=False)
    except (Unserializable, ValueError):
        walked = None
    try:
        written = b"".join(encode_binary_reply(reply))
    except Unserializable:
        assert walked is None
        return
    assert walked is not None, "written, where the walk refuses"
    size = int.from_bytes(written[:4], "big")
    got = json.loads(written[4 : 4 + size])
    assert typed(got) == typed({**json.loads(walked), "b": [len(s) for s in segments]})
    assert written[4 + size :] == b"".join(segments)
    if not segments:  # the channel carries no bytes
        assert typed(json.loads(encode_channel_reply(reply))) == typed(json.loads(walked))


def test_replies_the_fast_path_leaves_to_the_walk_are_still_refused() -> None:
    """Each refusal holds when the offending value sits deep in an otherwise plain reply."""
    from collections import OrderedDict

    from ramparts.bridge import protocol
    from ramparts.bridge.protocol import Unserializable

    too_deep: Any = "leaf"
    for _ in range(protocol.MAX_JSON_DEPTH + 1):
        too_deep = [too_deep]
    refused = {
        "nested too deeply": too_deep,
        "non-finite": [{"a": [1.0, float("inf")]}],
        "key of type int": [{"a": {1: "x"}}],
        "key of type bool": [{"a": {True: "x"}}],
        r"\$bytes": [{"a": {"$bytes": 0}}],
        "type set": [{"a": {1, 2}}],
    }
    for why, value in refused.items():
        reply = {"c": "x", "ok": True, "r": value}
        for encode in (encode_channel_reply, encode_binary_reply):
            with pytest.raises(Unserializable, match=why):
                encode(reply)
    # Not plain, but JSON: the walk writes them (a dict subclass, an attrs instance).
    odd = {"c": "x", "ok": True, "r": [OrderedDict(a=1)]}
    assert not protocol._plain(odd)
    assert json.loads(encode_channel_reply(odd))["r"] == [{"a": 1}]


def test_a_json_only_call_on_the_binary_carrier_is_not_walked_for_segments() -> None:
    """The bootstrap sends large JSON-only calls by fetch with no segments: the arguments
    arrive as they were parsed, and a placeholder is just a dict (as on the channel)."""
    args = {"value": {"items": [{"id": 1}], "p": {"$bytes": 0}}}
    msg = decode_binary(KEY, sign_binary(KEY, {"s": 1, "h": "h", "c": "c", "a": args}))
    assert msg.args == args and msg.handle == "h"
