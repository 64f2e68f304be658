"""The notes app's own command: turning a title into a safe file name.

The page could build file names itself, but then every page bug would be a path bug.
Here the rule lives in Python, next to the scope it has to fit (``$APPDATA/notes/*.md``).
"""

from __future__ import annotations

import re
import unicodedata

from ramparts import InvalidArgs, command

_UNSAFE = re.compile(r"[^a-z0-9]+")


@command
def note_path(title: str) -> str:
    """``"Shopping list!"`` -> ``"$APPDATA/notes/shopping-list.md"``."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = _UNSAFE.sub("-", ascii_title.lower()).strip("-")[:60]
    if not slug:
        raise InvalidArgs("title: needs at least one letter or digit", data={"path": "title"})
    return f"$APPDATA/notes/{slug}.md"
