"""examples/notes, the app docs/tutorial.md builds: its page in a headless webview, and
its dialog flows through the bridge with the dialogs answered by a hook."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ramparts
from ramparts.errors import InvalidArgs, NotAllowed, OutOfScope
from ramparts.testing import Bridge, eval_in_app

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "examples" / "notes"


def notes_dir(home: Path) -> Path:
    return home / ".local" / "share" / "dev.example.notes" / "notes"


@pytest.mark.webview
def test_the_page_saves_lists_renames_and_stays_in_scope(ramparts_home: Path) -> None:
    # A fresh account: no ~/.local yet. The app makes its own folders on first use.
    assert list(ramparts_home.iterdir()) == []
    result = eval_in_app(
        APP,
        """
        const $ = (id) => document.getElementById(id);
        const until = async (ok) => { while (!ok()) await new Promise((r) => setTimeout(r, 20)); };
        await window.notesReady;
        $("title").value = "Shopping list!";
        $("body").value = "- eggs";
        $("save").click();
        await until(() => $("list").children.length === 1);
        $("title").value = "Groceries";
        $("save").click();
        await until(() => $("list").textContent === "groceries");
        const saved = await ramparts.fs.read_text({ path: "$APPDATA/notes/groceries.md" });
        const outside = await ramparts.fs.read_text({ path: "/etc/passwd" }).catch((e) => e.code);
        const notMd = await ramparts.fs.write_text({ path: "$APPDATA/notes/x.sh", contents: "" })
          .catch((e) => e.code);
        const badTitle = await ramparts.invoke("note_path", { title: "!!!" }).catch((e) => e.code);
        return { list: $("list").textContent, status: $("status").textContent, saved, outside, notMd, badTitle };
        """,
    )
    assert result == {
        "list": "groceries",
        "status": "Saved $APPDATA/notes/groceries.md",
        "saved": "# Groceries\n\n- eggs",
        "outside": "out_of_scope",
        "notMd": "out_of_scope",
        "badTitle": "invalid_args",
    }
    assert sorted(p.name for p in notes_dir(ramparts_home).iterdir()) == ["groceries.md"]


class Answers:
    """Answers the dialog capability's dialogs, as a person would, in order."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    @ramparts.hookimpl
    def ramparts_dialog_answer(self, window: str, kind: str, options: dict[str, Any]) -> Any:
        self.asked.append(kind)
        return self.answers.pop(0)


def test_import_export_and_delete_go_through_the_dialogs(
    ramparts_bridge: Callable[..., Bridge], ramparts_home: Path
) -> None:
    outside = ramparts_home / "Documents"
    outside.mkdir()
    (outside / "idea.md").write_text("an idea")
    (outside / "diary.md").write_text("private")
    bridge = ramparts_bridge(APP)
    answers = Answers([str(outside / "idea.md")], str(outside / "export.md"), True)
    bridge.app.pm.register(answers)

    with pytest.raises(OutOfScope):  # not picked: not readable
        bridge.call("fs.read_text", {"path": str(outside / "idea.md")})
    picked = bridge.call("dialog.open", {"filters": [{"name": "Markdown", "extensions": ["md"]}]})
    assert bridge.call("fs.read_text", {"path": picked}) == "an idea"
    with pytest.raises(OutOfScope):  # exactly the picked file, not its folder
        bridge.call("fs.read_text", {"path": str(outside / "diary.md")})

    target = bridge.call("dialog.save", {"default_name": "export.md"})
    bridge.call("fs.write_text", {"path": target, "contents": "# Export"})
    assert (outside / "export.md").read_text() == "# Export"

    assert bridge.call("dialog.confirm", {"text": "Delete?"}) is True
    assert answers.asked == ["open", "save", "confirm"]

    with pytest.raises(NotAllowed):  # declared capabilities only; message is not allowed
        bridge.call("dialog.message", {"text": "hi"})
    with pytest.raises(InvalidArgs):
        bridge.call("note_path", {"title": "   "})
    assert bridge.call("note_path", {"title": "Café au lait"}) == "$APPDATA/notes/cafe-au-lait.md"


def blocks(markdown: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", markdown, re.M | re.S)


def code_lines(block: str, comment: str) -> list[str]:
    """The code of each line, without trailing comments and ``...`` placeholders."""
    lines = (line.split(comment)[0].strip() for line in block.splitlines())
    return [line for line in lines if line and line != "..."]


def test_the_tutorial_shows_the_real_config_and_code() -> None:
    """docs/tutorial.md quotes examples/notes: its config must be the app's (less the
    window), and every line of code it shows must be in the app's files."""
    tutorial = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    (config,) = [b for b in blocks(tutorial, "toml") if "[tool.ramparts]" in b]
    real = tomllib.loads((APP / "pyproject.toml").read_text())["tool"]["ramparts"]
    del real["window"]
    assert tomllib.loads(config)["tool"]["ramparts"] == real

    sources = {
        "python": (APP / "notes" / "commands.py", "#"),
        "js": (APP / "ui" / "app.js", "//"),
    }
    for lang, (path, comment) in sources.items():
        real_lines = set(code_lines(path.read_text(encoding="utf-8"), comment))
        shown = [
            b for b in blocks(tutorial, lang) if "eval_in_app" not in b and "hookimpl" not in b
        ]
        assert shown, lang
        for block in shown:
            missing = [line for line in code_lines(block, comment) if line not in real_lines]
            assert not missing, f"{lang} lines in the tutorial that {path.name} lacks: {missing}"
