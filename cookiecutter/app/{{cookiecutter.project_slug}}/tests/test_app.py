{%- set caps = cookiecutter.__caps.split() -%}
"""Tests for {{ cookiecutter.app_name }}.

Two levels, both through the Ramparts bridge (so the config's allow lists and scopes
apply exactly as in the app):

* ``ramparts_bridge``: calls commands the way the page does, without a window (fast);
* ``eval_in_app``: starts the app headless and runs JS in its page.

``ramparts_bridge`` and ``ramparts_home`` (a throwaway home folder, so ``$APPDATA`` never
is the real one) are pytest fixtures that come with ramparts.
{%- if cookiecutter.frontend == "vite-ts" %}

They test the page as it ships, ``frontend/dist``: build it first with
``npm --prefix frontend run build``.
{%- endif %}
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from ramparts import InvalidArgs, NotAllowed{% if "fs" in caps %}, OutOfScope{% endif %}
from ramparts.testing import Bridge, eval_in_app

APP = Path(__file__).resolve().parents[1]


def test_greet(ramparts_bridge: Callable[..., Bridge]) -> None:
    bridge = ramparts_bridge(APP)
    assert bridge.call("greet", {"name": "Ada"}) == "Hello, Ada!"
    with pytest.raises(InvalidArgs):
        bridge.call("greet", {"name": 42})  # type hints are enforced, nothing is coerced
    with pytest.raises(InvalidArgs):
        bridge.call("greet", {"name": "   "})


def test_only_declared_commands_exist(ramparts_bridge: Callable[..., Bridge]) -> None:
    bridge = ramparts_bridge(APP)
    assert "greet" in bridge.routes
    with pytest.raises(NotAllowed):
        bridge.call("shell.run", {"program": "sh"})
{%- if "fs" in caps %}


def test_files_stay_in_appdata(ramparts_bridge: Callable[..., Bridge], ramparts_home: Path) -> None:
    bridge = ramparts_bridge(APP)
    bridge.call("fs.mkdir", {"path": "$APPDATA"})
    bridge.call("fs.write_text", {"path": "$APPDATA/note.txt", "contents": "hi"})
    assert bridge.call("fs.read_text", {"path": "$APPDATA/note.txt"}) == "hi"
    (ramparts_home / "private.txt").write_text("not yours")
    with pytest.raises(OutOfScope):
        bridge.call("fs.read_text", {"path": str(ramparts_home / "private.txt")})
    with pytest.raises(NotAllowed):
        bridge.call("fs.remove", {"path": "$APPDATA/note.txt"})  # not in the allow list
{%- endif %}


def test_the_page_greets_through_the_bridge(ramparts_home: Path) -> None:
    result = eval_in_app(
        APP,
        """
        const until = async (ok) => { while (!ok()) await new Promise((r) => setTimeout(r, 20)); };
        const greeting = document.getElementById("greeting");
        document.getElementById("name").value = "Ada";
        document.getElementById("greet-form").requestSubmit();
        await until(() => greeting.textContent !== "");
        const shown = greeting.textContent;
        document.getElementById("name").value = "   ";
        document.getElementById("greet-form").requestSubmit();
        await until(() => greeting.classList.contains("error"));
        const refused = await ramparts.invoke("greet", { name: 42 }).catch((e) => e.code);
{%- if "fs" in caps %}
        document.getElementById("note").value = "from the page";
        document.getElementById("save-note").click();
        await until(() => document.getElementById("note-status").textContent !== "");
        const note = await ramparts.fs.read_text({ path: "$APPDATA/note.txt" });
{%- else %}
        const note = null;
{%- endif %}
        // The stylesheet applies (the Content Security Policy would refuse an inline one).
        const margin = getComputedStyle(document.body).marginTop;
        return { shown, error: greeting.textContent, refused, note, margin };
        """,
    )
    assert result == {
        "shown": "Hello, Ada!",
        "error": "invalid_args: name: 1 to 100 characters",  # shown in the page
        "refused": "invalid_args",
        "note": {% if "fs" in caps %}"from the page"{% else %}None{% endif %},
        "margin": "0px",
    }
