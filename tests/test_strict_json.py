"""The one strict JSON loader (``ramparts.bridge.protocol.strict_loads``) and what the bridge
does with numbers JSON cannot carry: ``NaN``, ``Infinity`` and literals beyond the range
of a double (``1e400`` is ``inf`` to Python's ``float``, ``Infinity`` to JS).

A page reaches these through ``JSON.rawJSON`` in a ``toJSON`` (see
``test_bridge_webview.py``); here messages are signed with the session key as the
bootstrap signs them, and a real :class:`Dispatcher` answers."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import queue
import secrets
import struct
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from typed_json import typed

from ramparts.bridge.dispatch import Dispatcher
from ramparts.bridge.protocol import (
    NotJson,
    ProtocolError,
    decode_binary,
    decode_channel,
    sign_channel,
    strict_loads,
)
from ramparts.bridge.session import Registry, Route, WindowSession
from ramparts.commands import as_command, command
from ramparts.errors import InvalidArgs

KEY = secrets.token_bytes(32)
REFUSED = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E+309", "1e0400", "-0.5e310"]
REFUSED += ["9" * 310, "-" + "9" * 310, "1" + "0" * 5000, "2" + "0" * 308 + ".5"]


# -- the loader ------------------------------------------------------------------------


@pytest.mark.parametrize("literal", REFUSED)
def test_numbers_beyond_a_double_are_refused_anywhere(literal: str) -> None:
    for doc, path in [
        (literal, ""),
        (f"[{literal}]", "[0]"),
        (f'{{"a": {{"b": [1, {literal}]}}}}', "a.b[1]"),
        (f'["e999", {{"x": {literal}}}]', "[1].x"),
    ]:
        with pytest.raises(NotJson) as info:
            strict_loads(doc)
        assert info.value.path == path and isinstance(info.value, ValueError), doc
        assert strict_loads(doc.replace(literal, f'"{literal}"')) is not None  # as a string


def test_what_is_accepted() -> None:
    # Underflow reads as zero, as JS's JSON.parse reads it: finite, so accepted.
    assert strict_loads("[1e-400, -1e-400]") == [0.0, -0.0]
    assert math.copysign(1, strict_loads("-1e-400")) == -1
    assert strict_loads("[1.7976931348623157e308, -1e308, 2e-308]") == [
        1.7976931348623157e308,
        -1e308,
        2e-308,
    ]
    big = 10**308  # 309 digits, still a finite double: kept exact
    assert strict_loads(str(big)) == big
    # Strings that only look like numbers (the fast path's pattern matches, nothing is
    # refused) and the decisions docs/bridge-protocol.md records:
    assert strict_loads('{"k": "NaN Infinity e999 ' + "9" * 400 + '"}')["k"].startswith("NaN")
    assert strict_loads('"\\ud800"') == "\ud800"  # a lone surrogate: a JS string can hold one
    assert strict_loads('{"a": 1, "a": 2}') == {"a": 2}  # JSON.stringify never repeats a key
    assert strict_loads(b'{"a": [1, 2.5, null, true, "\\u00e9"]}') == {
        "a": [1, 2.5, None, True, "é"]
    }
    with pytest.raises(ValueError):
        strict_loads("{")
    # Other encodings JSON allows (a server's body) are scanned as well.
    for encoding in ("utf-16", "utf-16-le", "utf-32", "utf-8-sig"):
        assert strict_loads('{"a": [1e-5]}'.encode(encoding)) == {"a": [1e-5]}
        with pytest.raises(NotJson):
            strict_loads('{"a": [1e400]}'.encode(encoding))


def _double_or_none(literal: str) -> float | None:
    """What JS's ``JSON.parse`` makes of a number literal: ``None`` for Infinity."""
    try:
        value = float(int(literal)) if literal.lstrip("-").isdigit() else float(literal)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


number_literals = st.builds(
    lambda sign, whole, frac, exp: sign + whole + frac + exp,
    st.sampled_from(["", "-"]),
    st.just("0")
    | st.builds(
        lambda first, rest: first + rest,
        st.sampled_from("123456789"),
        st.integers(0, 330).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n)),
    ),
    st.sampled_from(["", ".5", ".000001", "." + "9" * 40]),
    st.sampled_from(["", "e", "E+", "e-", "E0"]).flatmap(
        lambda e: st.just("") if e == "" else st.integers(0, 450).map(lambda n: f"{e}{n}")  # type: ignore[arg-type]
    ),
)


@given(number_literals)
@example("1" + "0" * 308)  # 1e308: the longest finite integers have 309 digits
@example("2" + "0" * 308)
@example("-" + "9" * 309)
@example("9" * 199 + "e99")  # the largest the fast path lets through
@example("9" * 210 + "e99")  # past a double: the digit run, not the exponent, says so
@example("-9223372036854775809")  # 19 digits, past 64 bits: orjson would read a float
@example("18446744073709551616")
def test_a_number_is_refused_exactly_when_js_would_read_infinity(literal: str) -> None:
    """The fast path skips documents without a suspect run of text: this checks the
    pattern never lets an overflowing literal through, and refuses nothing finite."""
    expected = _double_or_none(literal)
    doc = f'{{"tag": "e1", "v": [{literal}]}}'
    if expected is None:
        with pytest.raises(NotJson):
            strict_loads(doc)
    else:
        got = strict_loads(doc)["v"][0]
        assert got == pytest.approx(expected, rel=1e-15)
        if literal.lstrip("-").isdigit():  # an integer literal stays an exact int
            assert type(got) is int and got == int(literal)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
@example([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, -(2**64), 10**30])
@example({"a": 1, "a ": [0.1, -0.0, 5e-324, 1.7976931348623157e308, 1e16, 123456789.125]})
def test_every_json_value_reads_as_json_loads_reads_it(value: Any) -> None:
    """Including each leaf's type: the fast parser (orjson) must hand over the very
    values json would, or leave the document to json."""
    text = json.dumps(value)
    assert typed(strict_loads(text)) == typed(json.loads(text))
    assert typed(strict_loads(text.encode())) == typed(json.loads(text))


@pytest.mark.parametrize(
    "doc",
    [
        '{"a": 1, "a": 2, "b": [1, {"b": 3, "b": 4}]}',  # duplicate keys: the last wins
        '{"s": "\\ud800", "t": "x\\udc2a", "u": "\\ud83d\\ude00"}',  # lone surrogates
        '{"n": 18446744073709551616, "m": -9223372036854775809, "k": "12345678901234567890"}',
        b'\xef\xbb\xbf{"bom": 1}',  # UTF-8 with a byte order mark
    ],
)
def test_what_orjson_refuses_or_reads_otherwise_reads_as_json_reads_it(doc: str | bytes) -> None:
    assert typed(strict_loads(doc)) == typed(json.loads(doc))


# -- the decoder: refused numbers in a call are invalid_args, elsewhere the message goes --


def _header(args: str, seq: str = "1") -> str:
    return f'{{"s":{seq},"h":"handle","c":"cb","a":{args}}}'


def test_a_call_with_a_refused_number_is_answered_invalid_args() -> None:
    for decode in (
        lambda h: decode_channel(KEY, sign_channel(KEY, h)),
        lambda h: decode_binary(KEY, _binary(h)),
    ):
        msg = decode(_header('{"v":{"a":[1,1e400]},"data":{"$bytes":0}}'))
        assert msg.refused == ("1e400", "v.a[1]")
        with pytest.raises(InvalidArgs) as info:
            msg.arguments()
        assert info.value.code == "invalid_args" and info.value.data["path"] == "v.a[1]"
        assert "1e400 is not a number JSON can carry" in str(info.value)
        fine = decode(_header('{"v":[1e-400],"data":{"$bytes":0}}'))
        assert fine.refused is None and fine.arguments()["v"] == [0.0]


def _binary(header: str) -> bytes:
    """A binary-carrier body whose header is ``header`` as written, with one segment:
    ``sign_binary`` would write its own JSON, and that has no ``1e400`` in it."""
    raw = (header[:-1] + ',"b":[2]}').encode()
    rest = struct.pack(">I", len(raw)) + raw + b"ab"
    return hmac.new(KEY, b"B" + rest, hashlib.sha256).digest() + rest


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (_header("{}", seq="1e400"), "bad-seq"),
        ('{"s":1,"h":1e400,"c":"cb"}', "bad-call"),
        ('{"s":1,"h":"h","c":NaN}', "bad-call"),
        ('{"s":1,"e":"clicked","p":{"x":[Infinity]}}', "not-json"),
        ('{"s":1,"e":"clicked","p":-1e400}', "not-json"),
    ],
)
def test_a_refused_number_outside_the_arguments_refuses_the_message(
    header: str, reason: str
) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_channel(KEY, sign_channel(KEY, header))
    assert info.value.reason == reason


# -- through a real dispatcher ------------------------------------------------------------


@command
def take_any(v: Any) -> str:
    return repr(v)


@command
def take_dict(v: dict[str, Any]) -> str:
    return repr(v)


def test_the_dispatcher_answers_invalid_args_and_never_runs_the_command() -> None:
    reg = Registry()
    for f in (take_any, take_dict):
        cmd = as_command(f)
        assert cmd is not None
        reg.add(Route(cmd.name, None, cmd, None))
    replies: queue.Queue[dict[str, Any]] = queue.Queue()
    session = WindowSession("main", reg, "per-session", lambda t: replies.put(json.loads(t)))
    d = Dispatcher(command_timeout=5)
    try:
        for seq, (name, args) in enumerate(
            [
                ("take_any", '{"v":1e400}'),
                ("take_dict", '{"v":{"k":[-1E+309]}}'),
                ("take_any", '{"v":NaN}'),
                ("take_any", '{"v":[1e-400]}'),
            ],
            start=1,
        ):
            header = (
                f'{{"s":{seq},"h":"{session.initial_handles[name][0]}","c":"c{seq}","a":{args}}}'
            )
            d.channel_message(session, sign_channel(session.key, header))
        got = {r["c"]: r for r in (replies.get(timeout=5) for _ in range(4))}
    finally:
        d.close()
    for c, path in (("c1", "v"), ("c2", "v.k[0]"), ("c3", "v")):
        assert got[c]["ok"] is False and got[c]["e"]["code"] == "invalid_args", got[c]
        assert got[c]["e"]["data"]["path"] == path
    assert got["c4"] == {"c": "c4", "ok": True, "r": "[0.0]"}
