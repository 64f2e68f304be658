"""The dialog capability through the real bridge, answered by a ``ramparts_dialog_answer``
hook (no window): what is granted, and one dialog per window at a time."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import write_app

import ramparts
from ramparts import CommandFailed, OutOfScope
from ramparts.testing import Bridge, open_bridge

DIALOG = {"allow": ["open", "save", "message", "ask", "confirm"]}
FS = {"allow": ["read_text"], "scope": {"allow": []}}


class Answer:
    """A ``ramparts_dialog_answer`` plugin: ``answer(kind, options)`` decides."""

    def __init__(self, answer: Callable[[str, dict[str, Any]], Any]) -> None:
        self.answer = answer

    @ramparts.hookimpl
    def ramparts_dialog_answer(self, window: str, kind: str, options: dict[str, Any]) -> Any:
        return self.answer(kind, options)


def answered(bridge: Bridge, answer: Callable[[str, dict[str, Any]], Any]) -> Bridge:
    bridge.app.pm.register(Answer(answer))
    return bridge


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "picked"
    (root / "sub").mkdir(parents=True)
    for name in ("a.txt", "b.txt", "sub/c.txt", ".env", "sub/.token"):
        (root / name).write_text(name)
    (root / ".git").mkdir()
    (root / ".git/config").write_text("git")
    return root


def test_a_window_without_fs_records_no_grant(tmp_path: Path, tree: Path) -> None:
    # The app declares fs, but only for the "editor" window: "main" picks a file and
    # nothing may be granted to its session.
    caps = textwrap.dedent(
        """
        [tool.ramparts.capabilities.dialog]
        allow = ["open"]
        [tool.ramparts.capabilities.fs]
        allow = ["read_text"]
        [tool.ramparts.capabilities.fs.scope]
        allow = []
        [[tool.ramparts.windows]]
        label = "main"
        capabilities = ["dialog"]
        [[tool.ramparts.windows]]
        label = "editor"
        capabilities = ["dialog", "fs"]
        """
    )
    app_dir = write_app(tmp_path / "app", capabilities=caps)
    picked = str(tree / "a.txt")
    for window, granted in (("main", 0), ("editor", 1)):
        with answered(open_bridge(app_dir, window=window), lambda k, o: [picked]) as bridge:
            assert bridge.call("dialog.open") == picked
            assert len(bridge.session.grants) == granted, window
            assert bridge.session.grants.covers(picked) is bool(granted)


def test_a_single_pick_grants_and_returns_exactly_one_path(tree: Path) -> None:
    two = [str(tree / "a.txt"), str(tree / "b.txt")]
    bridge = open_bridge(capabilities={"dialog": DIALOG, "fs": FS})
    with answered(bridge, lambda k, o: two):
        assert bridge.call("dialog.open") == two[0]
        assert len(bridge.session.grants) == 1
        assert bridge.call("fs.read_text", {"path": two[0]}) == "a.txt"
        with pytest.raises(OutOfScope):
            bridge.call("fs.read_text", {"path": two[1]})
        assert bridge.call("dialog.open", {"multiple": True}) == two
        assert bridge.call("fs.read_text", {"path": two[1]}) == "b.txt"


def test_a_picked_folder_grants_its_tree_but_not_its_dotted_entries(tree: Path) -> None:
    bridge = open_bridge(capabilities={"dialog": DIALOG, "fs": FS})
    with answered(bridge, lambda k, o: [str(tree)]):
        assert bridge.call("dialog.open", {"directory": True}) == str(tree)
        read = {
            name: _code(lambda n=name: bridge.call("fs.read_text", {"path": str(tree / n)}))
            for name in ("a.txt", "sub/c.txt", ".env", "sub/.token", ".git/config")
        }
    assert read == {
        "a.txt": "a.txt",
        "sub/c.txt": "sub/c.txt",
        ".env": "out_of_scope",
        "sub/.token": "out_of_scope",
        ".git/config": "out_of_scope",
    }


def _code(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except ramparts.CommandError as e:
        return e.code


@pytest.fixture
def held() -> Iterator[tuple[threading.Event, threading.Event]]:
    entered, release = threading.Event(), threading.Event()
    yield entered, release
    release.set()


def test_one_dialog_per_window_at_a_time(held: tuple[threading.Event, threading.Event]) -> None:
    entered, release = held

    def answer(kind: str, options: dict[str, Any]) -> Any:
        if options.get("text") == "hold":
            entered.set()
            release.wait()
        return True

    bridge = open_bridge(capabilities={"dialog": DIALOG})
    other = open_bridge(capabilities={"dialog": DIALOG})
    with answered(bridge, answer), answered(other, answer):
        first: list[Any] = []
        worker = threading.Thread(
            target=lambda: first.append(bridge.call("dialog.ask", {"text": "hold"}))
        )
        worker.start()
        assert entered.wait(60)
        for command, args in (
            ("dialog.ask", {"text": "again"}),
            ("dialog.message", {"text": "again"}),
            ("dialog.open", {}),
            ("dialog.save", {}),
        ):
            with pytest.raises(CommandFailed) as info:
                bridge.call(command, args)
            assert info.value.data == {"reason": "busy"} and "already open" in info.value.message
        assert other.call("dialog.confirm", {"text": "elsewhere"}) is True  # another window
        release.set()
        worker.join()
        assert first == [True]
        assert bridge.call("dialog.ask", {"text": "after"}) is True  # free again
