"""The file-name rule, called the way the page calls it: through the bridge."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from ramparts import InvalidArgs
from ramparts.testing import Bridge

APP = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("title", "path"),
    [
        ("Shopping list!", "$APPDATA/notes/shopping-list.md"),
        ("Café au lait", "$APPDATA/notes/cafe-au-lait.md"),
        ("../../.bashrc", "$APPDATA/notes/bashrc.md"),  # a title never leaves the folder
        ("a" * 100, f"$APPDATA/notes/{'a' * 60}.md"),
    ],
)
def test_a_title_names_a_markdown_file_in_the_notes_folder(
    ramparts_bridge: Callable[..., Bridge], title: str, path: str
) -> None:
    assert ramparts_bridge(APP).call("note_path", {"title": title}) == path


@pytest.mark.parametrize("args", [{"title": "!!!"}, {"title": "   "}, {"title": 42}, {}])
def test_a_title_without_a_letter_or_digit_is_refused(
    ramparts_bridge: Callable[..., Bridge], args: dict[str, object]
) -> None:
    with pytest.raises(InvalidArgs):
        ramparts_bridge(APP).call("note_path", args)
