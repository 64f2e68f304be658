"""The ``store`` capability through the real bridge, without a window: the commands, the
allow list, the limits, persistence across app starts, change events to the windows
granted ``store``, config errors, a store file that cannot be read, and crash safety.

The crash tests run the real ``store.set`` in a subprocess (``store_kill_writer.py``)
and kill it with SIGKILL, at unplanned moments and at chosen points of a write: the
store is then always exactly the state before the write or after it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kill_writer import TEMP, kill, start, started
from store_kill_writer import IDENTIFIER, STATES, TABLE

from ramparts.app import App
from ramparts.errors import (
    CommandFailed,
    ConfigError,
    InvalidArgs,
    NotAllowed,
    OutOfScope,
    TooLarge,
)
from ramparts.testing import Bridge, app_dirs

ALL = ["get", "set", "delete", "keys", "clear"]
IDENT = "dev.ramparts.storetest"
OpenBridge = Callable[..., Bridge]
WRITER = Path(__file__).with_name("store_kill_writer.py")


def table(**more: Any) -> dict[str, Any]:
    return {"store": {"allow": ALL, "stores": ["settings", "cache"], **more}}


def store_file(name: str, identifier: str = IDENT) -> Path:
    return app_dirs(identifier)["APPDATA"] / ".store" / f"{name}.json"


def test_commands_and_persistence(ramparts_bridge: OpenBridge) -> None:
    bridge = ramparts_bridge(capabilities=table(), identifier=IDENT)
    call = bridge.call
    assert call("store.get", {"store": "settings", "key": "theme"}) is None
    assert call("store.keys", {"store": "settings"}) == []
    call("store.set", {"store": "settings", "key": "theme", "value": "dark"})
    call("store.set", {"store": "settings", "key": "size", "value": {"w": 3, "h": [1, None]}})
    call("store.set", {"store": "cache", "key": "theme", "value": 1.5})
    assert call("store.get", {"store": "settings", "key": "size"}) == {"w": 3, "h": [1, None]}
    assert call("store.keys", {"store": "settings"}) == ["theme", "size"]
    assert call("store.delete", {"store": "settings", "key": "theme"}) is True
    assert call("store.delete", {"store": "settings", "key": "theme"}) is False
    assert call("store.get", {"store": "cache", "key": "theme"}) == 1.5  # stores are apart
    # one file per store, private to the user, holding a JSON object
    path = store_file("settings")
    assert json.loads(path.read_text()) == {"size": {"w": 3, "h": [1, None]}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    bridge.close()
    # a new start of the app reads what the last one wrote
    again = ramparts_bridge(capabilities=table(), identifier=IDENT)
    assert again.call("store.get", {"store": "settings", "key": "size"})["w"] == 3
    again.call("store.clear", {"store": "cache"})
    assert again.call("store.keys", {"store": "cache"}) == []
    assert json.loads(store_file("cache").read_text()) == {}


def test_each_command_needs_its_allow_entry(ramparts_bridge: OpenBridge) -> None:
    caps = {"store": {"allow": ["get", "keys"], "stores": ["settings"]}}
    bridge = ramparts_bridge(capabilities=caps, identifier=IDENT)
    assert bridge.routes == ["store.get", "store.keys"]
    for command in ("store.set", "store.delete", "store.clear"):
        with pytest.raises(NotAllowed):
            bridge.call(command, {"store": "settings", "key": "k", "value": 1})
    assert not store_file("settings").exists()


def test_unknown_store_and_bad_keys(ramparts_bridge: OpenBridge) -> None:
    call = ramparts_bridge(capabilities=table(), identifier=IDENT).call
    with pytest.raises(OutOfScope, match="no store is named 'other'"):
        call("store.set", {"store": "other", "key": "k", "value": 1})
    with pytest.raises(OutOfScope):
        call("store.get", {"store": "../settings", "key": "k"})
    with pytest.raises(InvalidArgs, match="key: 1 to 1024 bytes"):
        call("store.set", {"store": "settings", "key": "", "value": 1})
    with pytest.raises(InvalidArgs, match="key: 1 to 1024 bytes"):
        call("store.set", {"store": "settings", "key": "é" * 513, "value": 1})
    with pytest.raises(InvalidArgs):
        call("store.set", {"store": "settings", "key": 3, "value": 1})
    with pytest.raises(InvalidArgs):
        call("store.set", {"store": "settings", "key": "k"})  # value missing
    assert not store_file("settings").exists()


def test_size_limits_leave_the_store_unchanged(ramparts_bridge: OpenBridge) -> None:
    caps = table(max_value_bytes=20, max_store_bytes=40)
    call = ramparts_bridge(capabilities=caps, identifier=IDENT).call
    with pytest.raises(TooLarge, match="value: 22 bytes as JSON; this app stores at most 20"):
        call("store.set", {"store": "settings", "key": "a", "value": "x" * 20})
    call("store.set", {"store": "settings", "key": "a", "value": "x" * 18})  # {"a":"x..."}
    before = store_file("settings").read_bytes()
    assert len(before) == 26
    with pytest.raises(TooLarge, match="would hold 47 bytes; this app's stores hold at most 40"):
        call("store.set", {"store": "settings", "key": "b", "value": "y" * 14})
    assert store_file("settings").read_bytes() == before
    assert call("store.keys", {"store": "settings"}) == ["a"]
    assert call("store.delete", {"store": "settings", "key": "a"}) is True  # shrinking: always


def test_a_store_file_that_cannot_be_read_is_left_alone(ramparts_bridge: OpenBridge) -> None:
    call = ramparts_bridge(capabilities=table(), identifier=IDENT).call
    call("store.set", {"store": "settings", "key": "a", "value": 1})
    path = store_file("settings")
    for bad in (b'{"a": 1', b"[1, 2]", b"\xff\xfe"):
        path.write_bytes(bad)
        with pytest.raises(CommandFailed) as e:
            call("store.get", {"store": "settings", "key": "a"})
        assert "store 'settings' cannot be read ($APPDATA/.store/settings.json: " in e.value.message
        assert str(app_dirs(IDENT)["HOME"]) not in e.value.message  # no home path to the page
        assert e.value.data == {"reason": "unreadable"}
        with pytest.raises(CommandFailed):
            call("store.set", {"store": "settings", "key": "b", "value": 2})
        assert path.read_bytes() == bad  # nothing written over it
    path.unlink()
    for make, remove in ((path.mkdir, path.rmdir), (lambda: os.mkfifo(path), path.unlink)):
        make()  # not a file at all (a FIFO must not hang the call)
        with pytest.raises(CommandFailed, match=r"\$APPDATA/.store/settings.json: not a regular"):
            call("store.set", {"store": "settings", "key": "b", "value": 2})
        remove()
    assert call("store.keys", {"store": "settings"}) == []  # removed: an empty store again


def test_another_process_change_is_read_not_overwritten(ramparts_bridge: OpenBridge) -> None:
    """Each change starts from the file on disk: a change made by another process of
    the app (here: written by hand) is kept by the next set."""
    call = ramparts_bridge(capabilities=table(), identifier=IDENT).call
    call("store.set", {"store": "settings", "key": "a", "value": 1})
    path = store_file("settings")
    path.write_text('{"a": 1, "from_elsewhere": true}')
    call("store.set", {"store": "settings", "key": "b", "value": 2})
    assert json.loads(path.read_text()) == {"a": 1, "from_elsewhere": True, "b": 2}


def test_concurrent_sets_lose_nothing(ramparts_bridge: OpenBridge) -> None:
    bridge = ramparts_bridge(capabilities=table(), identifier=IDENT)

    def writer(n: int) -> None:
        for i in range(10):
            bridge.call("store.set", {"store": "settings", "key": f"{n}-{i}", "value": i})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(json.loads(store_file("settings").read_text())) == 40


def test_the_fs_scope_does_not_reach_the_stores(ramparts_bridge: OpenBridge) -> None:
    caps = {
        **table(),
        "fs": {"allow": ["read_text", "write_text"], "scope": {"allow": ["$APPDATA/**"]}},
    }
    bridge = ramparts_bridge(capabilities=caps, identifier=IDENT)
    bridge.call("store.set", {"store": "settings", "key": "a", "value": 1})
    with pytest.raises(OutOfScope):
        bridge.call("fs.read_text", {"path": "$APPDATA/.store/settings.json"})
    with pytest.raises(OutOfScope):
        bridge.call("fs.write_text", {"path": "$APPDATA/.store/settings.json", "contents": "{}"})


# -- change events ----------------------------------------------------------------------

WINDOWS = """
[tool.ramparts.capabilities.store]
allow = ["get", "set", "delete", "clear"]
stores = ["settings"]

[[tool.ramparts.windows]]
label = "main"
capabilities = ["store"]

[[tool.ramparts.windows]]
label = "editor"
capabilities = ["store"]

[[tool.ramparts.windows]]
label = "about"
"""


def test_changes_are_announced_to_every_window_granted_store(
    tmp_path: Path, ramparts_home: Path
) -> None:
    from app_folders import write_app

    app = App.load(write_app(tmp_path / "app", capabilities=WINDOWS))
    main, editor, about = (Bridge(app, w) for w in ("main", "editor", "about"))
    try:
        main.call("store.set", {"store": "settings", "key": "a", "value": [1]})
        assert main.call("store.delete", {"store": "settings", "key": "nothing"}) is False
        editor.call("store.delete", {"store": "settings", "key": "a"})
        with pytest.raises(TooLarge):  # refused: nothing changed, nothing announced
            editor.call("store.set", {"store": "settings", "key": "b", "value": "x" * 300_000})
        editor.close()  # a page that has gone hears nothing more
        main.call("store.clear", {"store": "settings"})  # empty already: no change
        main.call("store.set", {"store": "settings", "key": "c", "value": None})
        main.call("store.clear", {"store": "settings"})
        changed = "store:changed"
        expected = [
            (changed, {"store": "settings", "key": "a", "action": "set"}),
            (changed, {"store": "settings", "key": "a", "action": "delete"}),
        ]
        assert editor.events == expected
        assert main.events == [
            *expected,
            (changed, {"store": "settings", "key": "c", "action": "set"}),
            (changed, {"store": "settings", "key": None, "action": "clear"}),
        ]
        assert about.events == []
        with pytest.raises(NotAllowed):
            about.call("store.get", {"store": "settings", "key": "c"})
    finally:
        for bridge in (main, editor, about):
            bridge.close()


# -- config -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "key", "expected"),
    [
        ({"stores": "settings"}, "stores", "a list of store names"),
        ({"stores": ["Settings"]}, "stores[0]", "lower-case letters, digits, _ and -"),
        ({"stores": ["ok", "../x"]}, "stores[1]", "starting with a letter"),
        ({"stores": ["a" * 33]}, "stores[0]", "(max 32)"),
        ({"stores": [3]}, "stores[0]", "lower-case letters"),
        ({"stores": ["a", "b", "a"]}, "stores[2]", "a name not listed before"),
        ({"stores": ["a"], "max_store_bytes": 0}, "max_store_bytes", "> 0"),
        ({"stores": ["a"], "max_value_bytes": 10, "max_store_bytes": 5}, "max_value_bytes",
         "at most max_store_bytes (5)"),
        ({"stores": ["a"], "path": "/tmp"}, "path", "no such key"),
    ],
)  # fmt: skip
def test_config_errors_name_the_key(
    ramparts_bridge: OpenBridge, options: dict[str, Any], key: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as e:
        ramparts_bridge(capabilities={"store": {"allow": ["get"], **options}})
    assert f"tool.ramparts.capabilities.store.{key}:" in str(e.value)
    assert expected in str(e.value)


def test_no_store_until_the_config_names_one(ramparts_bridge: OpenBridge) -> None:
    """What `ramparts add store` declares (an empty allow list, no stores) loads."""
    assert ramparts_bridge(capabilities={"store": {"allow": []}}).routes == []
    bridge = ramparts_bridge(capabilities={"store": {"allow": ["set"]}}, identifier=IDENT)
    with pytest.raises(OutOfScope, match=r"no store is named 'settings' \(this app's: none\)"):
        bridge.call("store.set", {"store": "settings", "key": "k", "value": 1})
    assert not store_file("settings").parent.exists()


def test_a_small_store_limit_lowers_the_value_default(ramparts_bridge: OpenBridge) -> None:
    caps = {"store": {"allow": ["set"], "stores": ["s"], "max_store_bytes": 100}}
    bridge = ramparts_bridge(capabilities=caps, identifier=IDENT)
    with pytest.raises(TooLarge, match="this app stores at most 100 per value"):
        bridge.call("store.set", {"store": "s", "key": "k", "value": "x" * 100})


# -- crash safety -----------------------------------------------------------------------


@pytest.fixture
def crash_app(ramparts_home: Path, tmp_path: Path) -> Path:
    """An app folder for the writer; the store starts in the first state."""
    folder = tmp_path / "crashapp"
    folder.mkdir()
    path = store_file("crash", IDENTIFIER)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"doc": STATES[0]}))
    assert TABLE["max_store_bytes"] > len(path.read_bytes())
    return folder


def _check_after_kill() -> tuple[int, int]:
    """The store holds exactly one of the two states; the only other entries are the
    lock file and temporary files. Removes those; returns (state index, debris count)."""
    path = store_file("crash", IDENTIFIER)
    entries = sorted(p.name for p in path.parent.iterdir())
    others = [n for n in entries if n not in ("crash.json", "crash.lock")]
    assert "crash.json" in entries
    assert all(TEMP.fullmatch(n) for n in others), others
    for n in others:
        (path.parent / n).unlink()
    held = json.loads(path.read_bytes())
    assert held in ({"doc": STATES[0]}, {"doc": STATES[1]})
    return (0 if held == {"doc": STATES[0]} else 1), len(others)


def test_killed_while_writing_the_store_is_old_or_new(crash_app: Path) -> None:
    """A process writing 2 MiB states in a loop is killed with SIGKILL at a random
    moment, 20 times (it arms the kill itself, on a timer: a kill the test sent on
    reading ``wrote`` would always land in the next write's JSON encoding). Each time
    the store reads as one whole state. About one kill in five lands in the file write
    (a partial temporary file is left); the step tests below aim at each step."""
    rng = random.Random()
    for _ in range(20):
        delay = f"{rng.uniform(0, 0.3):.3f}"
        proc = start(WRITER, str(crash_app), "timer", delay)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL, err.decode()
        assert out.startswith(b"ready\n")
        _check_after_kill()
    # killed only after a complete write: the store holds the other state. Fails if
    # writes never complete.
    before = _check_after_kill()[0]
    kill(started(WRITER, str(crash_app), "once", says="wrote"))
    assert _check_after_kill() == (1 - before, 0)


def test_two_processes_lose_none_of_each_others_changes(crash_app: Path) -> None:
    """Each change reads the file, changes it and replaces it: without the lock file,
    two processes of the app would overwrite each other's keys (each set rewrites the
    2 MiB store here, so their changes overlap)."""
    procs = [start(WRITER, str(crash_app), "keys", "25") for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    held = json.loads(store_file("crash", IDENTIFIER).read_bytes())
    assert sorted(held) == sorted(["doc", *(f"{p.pid}-{n}" for p in procs for n in range(25))])


@pytest.mark.parametrize(
    ("mode", "state", "debris"),
    [
        ("mid-write", 0, 1),  # killed half-way through the temporary file
        ("before-rename", 0, 1),  # the new state complete, not yet renamed
        ("after-rename", 1, 0),  # killed right after the rename
    ],
)
def test_killed_at_each_step_of_a_write(
    crash_app: Path, mode: str, state: int, debris: int
) -> None:
    kill(started(WRITER, str(crash_app), mode, says="paused"))
    assert _check_after_kill() == (state, debris)
