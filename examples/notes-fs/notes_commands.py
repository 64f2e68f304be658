"""The notes app's own command: the page reads and writes notes through ``fs``."""

from __future__ import annotations

from ramparts import command


@command
def title(text: str) -> str:
    """The first line of a note, trimmed: the list shows it."""
    first = text.strip().splitlines()[0] if text.strip() else "(empty)"
    return first[:60]
