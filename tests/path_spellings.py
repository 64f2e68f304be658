"""Second spellings of a file name: the same OS bytes, or the same name to a case- or
normalization-insensitive file system. Shared by the fs and shell path identity tests."""

from __future__ import annotations

import unicodedata

#: Denied names: Latin-1 accents, German sharp s (its full case folding is longer),
#: Cyrillic with a decomposable letter, CJK, Hangul (decomposed by NFD, as macOS's HFS+
#: stores it), and an emoji outside the BMP (a surrogate pair in JS).
NAMES = ["Privé", "Straße", "Мой ключ", "秘密", "비밀", "🔒 vault"]


def disguised(text: str) -> str:
    """``text``'s UTF-8 bytes spelled as lone surrogates: what ``os.fsdecode`` makes of
    them under a non-UTF-8 (ASCII) reading. The OS gets the same bytes as for ``text``."""
    return text.encode().decode("ascii", "surrogateescape")


def spellings(name: str) -> dict[str, str]:
    """Other spellings of ``name`` that a deny of ``name`` must also cover."""
    return {
        "nfc": unicodedata.normalize("NFC", name),
        "nfd": unicodedata.normalize("NFD", name),
        "upper": name.upper(),
        "surrogates": disguised(name),
        "surrogates-nfd": disguised(unicodedata.normalize("NFD", name)),
    }


def expected(spelling: str) -> str:
    return "invalid_args" if spelling.startswith("surrogates") else "out_of_scope"
