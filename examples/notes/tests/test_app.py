"""Tests for Notes.

Two levels, both through the Ramparts bridge (so the config's allow lists and scopes
apply exactly as in the app):

* ``ramparts_bridge``: calls commands the way the page does, without a window (fast);
* ``eval_in_app``: starts the app headless and runs JS in its page.

``ramparts_bridge`` and ``ramparts_home`` (a throwaway home folder, so ``$APPDATA`` never
is the real one) are pytest fixtures that come with ramparts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from ramparts import NotAllowed, OutOfScope
from ramparts.testing import Bridge, app_dirs, eval_in_app

APP = Path(__file__).resolve().parents[1]


def test_only_declared_commands_exist(ramparts_bridge: Callable[..., Bridge]) -> None:
    bridge = ramparts_bridge(APP)
    assert bridge.routes == [
        "dialog.confirm",
        "dialog.open",
        "dialog.save",
        "fs.list_dir",
        "fs.mkdir",
        "fs.read_text",
        "fs.remove",
        "fs.write_text",
        "note_path",
    ]
    for name in ("fs.exists", "fs.rename", "dialog.message", "shell.run", "greet"):
        with pytest.raises(NotAllowed):
            bridge.call(name, {})


def test_notes_are_markdown_files_directly_in_the_notes_folder(
    ramparts_bridge: Callable[..., Bridge], ramparts_home: Path
) -> None:
    bridge = ramparts_bridge(APP)
    bridge.call("fs.mkdir", {"path": "$APPDATA/notes"})
    bridge.call("fs.write_text", {"path": "$APPDATA/notes/idea.md", "contents": "# Idea"})
    assert bridge.call("fs.read_text", {"path": "$APPDATA/notes/idea.md"}) == "# Idea"
    for path in (
        "$APPDATA/notes/run.sh",  # not Markdown
        "$APPDATA/notes/.hidden.md",  # * never matches a leading dot
        "$APPDATA/notes/old/idea.md",  # * never crosses a /
        "$APPDATA/idea.md",
        str(ramparts_home / "idea.md"),
    ):
        with pytest.raises(OutOfScope):
            bridge.call("fs.write_text", {"path": path, "contents": "x"})


def test_the_page_saves_renames_adds_and_stays_in_scope(ramparts_home: Path) -> None:
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
        $("new").click();
        await until(() => $("title").value === "");
        $("title").value = "Ideas";
        $("save").click();
        await until(() => $("list").children.length === 2);
        const saved = await ramparts.fs.read_text({ path: "$APPDATA/notes/groceries.md" });
        const outside = await ramparts.fs.read_text({ path: "/etc/passwd" }).catch((e) => e.code);
        $("title").value = "!!!";
        $("save").click();
        await until(() => $("status").classList.contains("error"));
        // The stylesheet applies (the Content Security Policy would refuse an inline one).
        const layout = getComputedStyle(document.body).display;
        const list = [...$("list").children].map((li) => li.textContent);
        const status = $("status").textContent;
        return { list, saved, outside, status, layout };
        """,
    )
    assert result == {
        "list": ["groceries", "ideas"],
        "saved": "# Groceries\n\n- eggs",
        "outside": "out_of_scope",
        "status": "invalid_args: title: needs at least one letter or digit",  # shown in the page
        "layout": "flex",
    }
    notes = app_dirs("dev.example.notes")["APPDATA"] / "notes"
    # The rename moved the first note; the new one is a file of its own.
    assert sorted(p.name for p in notes.iterdir()) == ["groceries.md", "ideas.md"]
