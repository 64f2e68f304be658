"""``ramparts.testing`` and its pytest fixtures: calls through the real bridge path
without a window, with a given config, and the ``pytest11`` registration."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import write_app

import ramparts
import ramparts.testing
from ramparts.bridge.protocol import ProtocolError
from ramparts.errors import (
    CommandFailed,
    CommandTimeout,
    ConfigError,
    InvalidArgs,
    NotAllowed,
    OutOfScope,
)
from ramparts.testing import Bridge, call_command, open_bridge

SAMPLE = {"sample": {"allow": ["echo", "echo_bytes", "say", "boom", "hang"], "words": ["hi"]}}
FS = {
    "fs": {
        "allow": ["read_text", "write_text", "mkdir"],
        "scope": {"allow": ["$APPDATA/**"], "deny": ["$APPDATA/private/**"]},
    }
}


def test_call_command_runs_the_allowed_command_with_its_scope() -> None:
    assert call_command("sample.echo", {"value": [1, "two"]}, capabilities=SAMPLE) == [1, "two"]
    assert call_command("sample.say", {"word": "hi"}, capabilities=SAMPLE) == "hi"
    with pytest.raises(OutOfScope, match="'bye' is not in this app's scope"):
        call_command("sample.say", {"word": "bye"}, capabilities=SAMPLE)


def test_errors_are_the_ones_the_page_would_get(
    ramparts_bridge: Callable[..., Bridge],
) -> None:
    bridge = ramparts_bridge(capabilities=SAMPLE)
    assert bridge.routes == [f"sample.{n}" for n in sorted(SAMPLE["sample"]["allow"])]
    with pytest.raises(NotAllowed):
        bridge.call("sample.secret")  # installed, but not in the allow list
    with pytest.raises(InvalidArgs) as bad:
        bridge.call("sample.say", {"word": 3})
    assert bad.value.data["path"] == "word"
    with pytest.raises(InvalidArgs, match="unknown argument 'extra'"):
        bridge.call("sample.echo", {"value": 1, "extra": 2})
    with pytest.raises(CommandFailed) as failed:
        bridge.call("sample.boom")
    assert "internal detail" not in failed.value.message  # tracebacks stay in the log
    with pytest.raises(CommandTimeout):
        bridge.call("sample.hang")


def test_bytes_travel_on_the_binary_carrier(ramparts_bridge: Callable[..., Bridge]) -> None:
    bridge = ramparts_bridge(capabilities=SAMPLE)
    data = bytes(range(256)) * 100
    assert bridge.call("sample.echo_bytes", {"data": data}) == data
    with pytest.raises(InvalidArgs):
        bridge.call("sample.echo_bytes", {"data": "not bytes"})


def test_messages_are_verified_by_the_bridge(
    ramparts_bridge: Callable[..., Bridge], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Calls pass the real MAC check: signed under another key, they are rejected."""
    bridge = ramparts_bridge(capabilities=SAMPLE)
    assert bridge.call("sample.echo_bytes", {"data": b"x"}) == b"x"
    wrong_key = ramparts.testing.sign_binary
    monkeypatch.setattr(ramparts.testing, "sign_binary", lambda key, *a: wrong_key(b"\0" * 32, *a))
    with pytest.raises(ProtocolError, match="bad-mac"):
        bridge.call("sample.echo_bytes", {"data": b"x"})
    assert bridge.session.stats["bad-mac"] == 1


def test_per_call_handles_are_rotated(ramparts_bridge: Callable[..., Bridge]) -> None:
    bridge = ramparts_bridge(capabilities=SAMPLE, security={"handles": "per-call"})
    # More calls than the pool of live handles: each reply must hand back a new one.
    assert [bridge.call("sample.echo", {"value": i}) for i in range(40)] == list(range(40))


def test_a_bad_config_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"tool\.ramparts\.capabilities\.sample\.words"):
        open_bridge(capabilities={"sample": {"allow": [], "words": "hi"}})
    with pytest.raises(ValueError, match="either app_dir or capabilities"):
        open_bridge()


def test_fs_scope_under_a_throwaway_home(
    ramparts_bridge: Callable[..., Bridge], ramparts_home: Path
) -> None:
    bridge = ramparts_bridge(capabilities=FS, identifier="dev.ramparts.fstest")
    bridge.call("fs.mkdir", {"path": "$APPDATA/notes"})
    bridge.call("fs.write_text", {"path": "$APPDATA/notes/a.md", "contents": "# A"})
    written = ramparts_home / ".local" / "share" / "dev.ramparts.fstest" / "notes" / "a.md"
    assert written.read_text() == "# A"
    with pytest.raises(OutOfScope):
        bridge.call("fs.read_text", {"path": "$APPDATA/private/key"})
    outside = ramparts_home / "outside.txt"
    outside.write_text("granted")
    with pytest.raises(OutOfScope):
        bridge.call("fs.read_text", {"path": str(outside)})
    bridge.session.grants.add_path(outside)  # what a dialog does for a picked file
    assert bridge.call("fs.read_text", {"path": str(outside)}) == "granted"


def test_an_app_folder_its_commands_events_and_session_hooks(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", module="testing_app_cmds")
    ended: list[Any] = []

    class Recorder:
        @ramparts.hookimpl
        def ramparts_session_ended(self, session: Any) -> None:
            ended.append(session)

    with open_bridge(app_dir) as bridge:
        bridge.app.pm.register(Recorder())
        assert bridge.call("add", {"a": 2, "b": 40}) == 42
        assert bridge.call("shout", {"text": "hey"}) == "HEY"
        assert bridge.events == [("shouted", {"text": "HEY"})]
        session = bridge.session
    assert ended == [session]
    assert session.closed


def test_fixtures_reach_other_projects_through_the_pytest11_entry_point(tmp_path: Path) -> None:
    """A project with no conftest gets ``ramparts_bridge`` just by having ramparts installed."""
    (tmp_path / "test_outside.py").write_text(
        textwrap.dedent(
            """
            def test_it(ramparts_bridge, ramparts_home):
                bridge = ramparts_bridge(capabilities={"sample": {"allow": ["echo"]}})
                assert bridge.call("sample.echo", {"value": "x"}) == "x"
                assert str(ramparts_home) in __import__("os").environ["XDG_DATA_HOME"]
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def test_app_dirs_is_where_the_scopes_resolve(
    ramparts_bridge: Callable[..., Bridge], ramparts_home: Path
) -> None:
    ident = "dev.ramparts.toolkit.dirs-test"
    bridge = ramparts_bridge(capabilities=FS, identifier=ident)
    bridge.call("fs.mkdir", {"path": "$APPDATA/notes"})
    bridge.call("fs.write_text", {"path": "$APPDATA/notes/a.txt", "contents": "hi"})
    dirs = ramparts.testing.app_dirs(ident)
    assert (dirs["APPDATA"] / "notes" / "a.txt").read_text() == "hi"
    assert dirs["APPDATA"].is_relative_to(ramparts_home)  # Linux: under the moved home
    assert "RESOURCE" not in dirs
    assert ramparts.testing.app_dirs(ident, ramparts_home)["RESOURCE"] == ramparts_home
