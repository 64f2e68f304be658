"""Text encodings: the one rule for a page-chosen codec, and one for a server's charset.

Python's codec registry holds more than text encodings: ``base64``, ``rot13`` and
``zlib`` turn bytes into bytes, and ``undefined`` raises ``UnicodeError`` on any use.
Capabilities that let a page pick an ``encoding`` (fs, shell) must refuse those with
``invalid_args``; a charset a remote server declares (http) is not the page's mistake, so
it falls back to UTF-8 instead of failing the call.
"""

from __future__ import annotations

import codecs

from ramparts.errors import InvalidArgs

__all__ = ["FALLBACK_CHARSET", "declared_charset", "encode_text", "text_codec"]

#: What :func:`declared_charset` answers for a missing or unusable charset.
FALLBACK_CHARSET = "utf-8"


def _lookup(encoding: str) -> str | None:
    """The codec's canonical name if it is a general text encoding, else ``None``.

    Bytes-to-bytes codecs refuse ``str`` (``LookupError``), ``undefined`` raises
    ``UnicodeError`` on any use, and ``idna``/``punycode`` (host-name codecs) raise on
    bytes they cannot decode even with ``errors="replace"``: all are refused.
    """
    try:
        name = codecs.lookup(encoding).name
        "a".encode(name).decode(name)
        b"\xff\xfe\x80a".decode(name, "replace")
    except (LookupError, UnicodeError, TypeError, ValueError):
        return None
    return name


def text_codec(encoding: object, where: str = "encoding") -> str:
    """The canonical name of a text encoding the page asked for, else ``InvalidArgs``.

    :param where: the argument's name, for the error message.
    """
    name = _lookup(encoding) if isinstance(encoding, str) else None
    if name is None:
        raise InvalidArgs(f"{where}: unknown text encoding {encoding!r}", data={"path": where})
    return name


def encode_text(text: str, encoding: str, where: str = "contents") -> bytes:
    """``text`` in the page-chosen ``encoding`` (checked by :func:`text_codec`), or
    ``InvalidArgs`` naming ``where`` when a character has no form in it."""
    codec = text_codec(encoding)
    try:
        return text.encode(codec)
    except UnicodeEncodeError as e:
        raise InvalidArgs(
            f"{where}: cannot be written as {encoding}: {e.reason}", data={"path": where}
        ) from None


def declared_charset(content_type: str) -> tuple[str, bool]:
    """The codec for a ``Content-Type`` header's ``charset`` parameter.

    :return: ``(codec name, usable)``; ``usable`` is ``False`` when a charset was
        declared but is not a text encoding Python knows (``undefined``, ``base64``, a
        typo), and the codec is then :data:`FALLBACK_CHARSET`. No charset is UTF-8.
    """
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "charset":
            name = _lookup(value.strip().strip('"'))
            return (name, True) if name is not None else (FALLBACK_CHARSET, False)
    return FALLBACK_CHARSET, True
