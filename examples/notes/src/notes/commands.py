"""The commands the page may call: every ``@command`` defined in this module.

Each argument is checked against its type hint before the function runs; the page gets
``invalid_args`` for anything else, never a traceback.
"""

from __future__ import annotations

import re
import unicodedata

from ramparts import InvalidArgs, command

_UNSAFE = re.compile(r"[^a-z0-9]+")


@command
def note_path(title: str) -> str:
    """``"Shopping list!"`` -> ``"$APPDATA/notes/shopping-list.md"``.

    The rule lives in Python, next to the scope it must fit (``$APPDATA/notes/*.md``):
    built in the page, every page bug would be a path bug.
    """
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = _UNSAFE.sub("-", ascii_title.lower()).strip("-")[:60]
    if not slug:
        raise InvalidArgs("title: needs at least one letter or digit", data={"path": "title"})
    return f"$APPDATA/notes/{slug}.md"
