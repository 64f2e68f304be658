"""ramparts.toolkit.text: the page's encodings are refused when they are not text; a server's
charset falls back to UTF-8 instead."""

from __future__ import annotations

import pytest

from ramparts import InvalidArgs
from ramparts.toolkit.text import declared_charset, text_codec


@pytest.mark.parametrize(
    ("asked", "name"),
    [("utf-8", "utf-8"), ("UTF8", "utf-8"), ("latin-1", "iso8859-1"), ("utf-16", "utf-16")],
)
def test_text_encodings_are_canonical(asked: str, name: str) -> None:
    assert text_codec(asked) == name


@pytest.mark.parametrize(
    "asked",
    # unknown; bytes-to-bytes; raises UnicodeError on use; host-name codecs that raise
    # even with errors="replace"; not a string
    ["no-such", "", "base64", "rot13", "zlib", "hex", "undefined", "idna", "punycode", 5],
)
def test_other_codecs_are_invalid_args_naming_the_argument(asked: object) -> None:
    with pytest.raises(InvalidArgs, match=r"^stdin_encoding: unknown text encoding") as info:
        text_codec(asked, "stdin_encoding")
    assert info.value.data == {"path": "stdin_encoding"}


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/plain", ("utf-8", True)),
        ("text/plain; charset=ISO-8859-1", ("iso8859-1", True)),
        ('text/html; Charset="windows-1252"', ("cp1252", True)),
        ("text/plain; format=flowed; charset=utf-16", ("utf-16", True)),
        ("text/plain; charset=undefined", ("utf-8", False)),
        ("text/plain; charset=idna", ("utf-8", False)),
        ("text/plain; charset=base64", ("utf-8", False)),
        ("text/plain; charset=", ("utf-8", False)),
    ],
)
def test_declared_charset_falls_back_to_utf8(content_type: str, expected: tuple[str, bool]) -> None:
    assert declared_charset(content_type) == expected


def test_encode_text_checks_the_codec_and_names_the_argument() -> None:
    from ramparts.toolkit import encode_text

    assert encode_text("é", "latin-1") == b"\xe9"
    with pytest.raises(InvalidArgs, match=r"^stdin: cannot be written as ascii") as e:
        encode_text("é", "ascii", "stdin")
    assert e.value.data == {"path": "stdin"}
    with pytest.raises(InvalidArgs, match="unknown text encoding"):
        encode_text("x", "base64")
