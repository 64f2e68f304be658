"""The dialogs, answered by a hook: a headless run has no person to click.

The ``dialog`` capability asks ``ramparts_dialog_answer`` hooks before it shows anything,
so a test can answer as the person would (``CANCEL`` for a cancel).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import ramparts
from ramparts import OutOfScope
from ramparts.testing import Bridge
from ramparts_dialog import CANCEL

APP = Path(__file__).resolve().parents[1]


class Answers:
    """Answers the dialogs in order, and notes which kinds were asked."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    @ramparts.hookimpl
    def ramparts_dialog_answer(self, window: str, kind: str, options: dict[str, Any]) -> Any:
        self.asked.append(kind)
        return self.answers.pop(0)


def test_a_picked_file_and_only_it_joins_the_scope(
    ramparts_bridge: Callable[..., Bridge], ramparts_home: Path
) -> None:
    documents = ramparts_home / "Documents"
    documents.mkdir()
    (documents / "idea.md").write_text("an idea")
    (documents / "diary.md").write_text("private")
    bridge = ramparts_bridge(APP)
    answers = Answers([str(documents / "idea.md")], str(documents / "export.md"), True)
    bridge.app.pm.register(answers)

    with pytest.raises(OutOfScope):  # not picked yet: not readable
        bridge.call("fs.read_text", {"path": str(documents / "idea.md")})
    picked = bridge.call("dialog.open", {"filters": [{"name": "Markdown", "extensions": ["md"]}]})
    assert bridge.call("fs.read_text", {"path": picked}) == "an idea"
    with pytest.raises(OutOfScope):  # exactly the picked file, not its folder
        bridge.call("fs.read_text", {"path": str(documents / "diary.md")})

    target = bridge.call("dialog.save", {"default_name": "export.md"})
    bridge.call("fs.write_text", {"path": target, "contents": "# Export"})
    assert (documents / "export.md").read_text() == "# Export"

    assert bridge.call("dialog.confirm", {"text": "Delete?"}) is True
    assert answers.asked == ["open", "save", "confirm"]


def test_cancelling_grants_nothing(
    ramparts_bridge: Callable[..., Bridge], ramparts_home: Path
) -> None:
    bridge = ramparts_bridge(APP)
    bridge.app.pm.register(Answers(CANCEL, CANCEL))
    assert bridge.call("dialog.open", {}) is None
    assert bridge.call("dialog.confirm", {"text": "Delete?"}) is False
    with pytest.raises(OutOfScope):
        bridge.call("fs.read_text", {"path": str(ramparts_home / ".bashrc")})
