"""The ``fs`` capability without a window: each command is called the way the bridge
calls it (arguments bound against the signature, a real ``CallContext`` whose session
is a real ``WindowSession``), on real files under ``tmp_path``.

The crash tests run the real ``write_bytes`` in a subprocess (``fs_kill_writer.py``)
and kill it with SIGKILL, at random moments and at chosen points of a write.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import unprivileged
from fs_kill_writer import CONTENTS, SIZE
from kill_writer import TEMP, kill, started
from test_scope import World, no_hang, point_dirs_at

import ramparts_fs.commands
from ramparts import CallContext
from ramparts.bridge.session import Registry, WindowSession
from ramparts.commands import as_command
from ramparts.errors import CommandError, CommandFailed, ConfigError, InvalidArgs, OutOfScope

WRITER = Path(__file__).with_name("fs_kill_writer.py")
SCOPE = {
    "allow": ["$APPDATA/data/**", "$APPDATA/notes", "$APPDATA/notes/*"],
    "deny": ["$APPDATA/data/secret/**", "$APPDATA/**/*.key"],
}


class Fs:
    """A configured fs capability and one real window session."""

    def __init__(self, world: World, table: dict[str, Any]) -> None:
        self.state = ramparts_fs.configure(table, world.ctx)
        self.sent: list[str] = []
        self.session = WindowSession("main", Registry(), "per-session", self.sent.append)

    def __call__(self, name: str, **args: Any) -> Any:
        """Call a command as the bridge does: validate the page's arguments, then run."""
        func = getattr(ramparts_fs.commands, name)
        cmd = as_command(func)
        assert cmd is not None and cmd.wants_context
        kwargs = cmd.bind(args)
        ctx = CallContext("fs", name, self.session.window, self.state, self.session)
        return func(ctx, **kwargs)

    def code(self, name: str, **args: Any) -> str:
        """``"ok"`` or the error code the page would see."""
        try:
            self(name, **args)
        except CommandError as e:
            return e.code
        return "ok"


class FsWorld(World):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.data = self.appdata / "data"
        self.notes = self.appdata / "notes"
        self.data.mkdir()
        self.notes.mkdir()

    def fs(self, **options: Any) -> Fs:
        return Fs(self, {"scope": SCOPE, **options})


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FsWorld:
    w = FsWorld(tmp_path.resolve())
    point_dirs_at(w.home, monkeypatch)
    return w


@pytest.fixture
def fs(world: FsWorld) -> Fs:
    return world.fs()


def names(d: Path) -> list[str]:
    return sorted(os.listdir(d))


# -- the capability and its config ---------------------------------------------------


def test_the_capability_has_twelve_commands() -> None:
    cap = ramparts_fs.ramparts_capability()
    assert cap.name == "fs"
    assert sorted(cap.command_table()) == sorted(
        [
            "read_text",
            "read_bytes",
            "write_text",
            "write_bytes",
            "append_text",
            "list_dir",
            "stat",
            "exists",
            "mkdir",
            "remove",
            "rename",
            "copy",
        ]
    )
    table = cap.command_table()
    assert {n for n, c in table.items() if c.binary} == {"read_bytes", "write_bytes"}


def test_configure_defaults(world: FsWorld) -> None:
    state = ramparts_fs.configure({}, world.ctx)
    assert state.max_read_bytes == 64 * 1024 * 1024
    assert state.scope.allow == () and state.scope.deny == ()
    state = ramparts_fs.configure({"scope": SCOPE, "max_read_bytes": 10}, world.ctx)
    assert state.max_read_bytes == 10
    assert state.scope.allow[0] == f"{world.appdata}/data/**"


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"max_read_bytes": 0}, "max_read_bytes"),
        ({"max_read_bytes": -1}, "max_read_bytes"),
        ({"max_read_bytes": True}, "max_read_bytes"),
        ({"max_read_bytes": "64MiB"}, "max_read_bytes"),
        ({"max_read_bytes": 1.5}, "max_read_bytes"),
        ({"scopes": {}}, "scopes"),
        ({"scope": {"allow": ["rel/**"]}}, "scope.allow"),
        ({"scope": {"deny": "$APPDATA/x"}}, "scope.deny"),
    ],
)
def test_configure_errors_name_the_key(world: FsWorld, table: Any, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        ramparts_fs.configure(table, world.ctx)
    assert info.value.key == f"tool.ramparts.capabilities.fs.{key}"


def test_arguments_are_checked_like_the_bridge(fs: Fs) -> None:
    assert fs.code("read_text", path=3) == "invalid_args"
    assert fs.code("read_text") == "invalid_args"
    assert fs.code("read_text", path="$APPDATA/data/a", mode="r") == "invalid_args"
    assert fs.code("write_bytes", path="$APPDATA/data/a", data="text") == "invalid_args"
    assert fs.code("remove", path="$APPDATA/data/a", recursive="yes") == "invalid_args"


# -- reading -------------------------------------------------------------------------


def test_read_text_and_bytes(world: FsWorld, fs: Fs) -> None:
    (world.data / "a.txt").write_text("héllo\n", encoding="utf-8")
    blob = bytes(range(256)) * 3
    (world.data / "b.bin").write_bytes(blob)
    (world.data / "empty").write_bytes(b"")
    assert fs("read_text", path="$APPDATA/data/a.txt") == "héllo\n"
    assert fs("read_text", path=str(world.data / "a.txt")) == "héllo\n"
    assert fs("read_bytes", path="$APPDATA/data/b.bin") == blob
    assert fs("read_text", path="$APPDATA/data/empty") == ""
    assert fs("read_bytes", path="$APPDATA/data/empty") == b""
    assert fs.code("read_text", path="$APPDATA/data/../data/a.txt") == "invalid_args"


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("utf-8", "naïve ☃ 𝄞"),
        ("UTF8", "naïve"),
        ("latin-1", "naïve £"),
        ("cp1252", "€ naïve"),
        ("utf-16", "naïve ☃"),
        ("utf-16-le", "naïve"),
        ("shift_jis", "日本語"),
        ("ascii", "plain"),
    ],
)
def test_text_round_trips_in_each_encoding(
    world: FsWorld, fs: Fs, encoding: str, text: str
) -> None:
    fs("write_text", path="$APPDATA/data/t.txt", contents=text, encoding=encoding)
    assert (world.data / "t.txt").read_bytes() == text.encode(encoding)
    assert fs("read_text", path="$APPDATA/data/t.txt", encoding=encoding) == text
    fs("append_text", path="$APPDATA/data/t2.txt", contents=text, encoding=encoding)
    assert fs("read_text", path="$APPDATA/data/t2.txt", encoding=encoding) == text


def test_encoding_errors_are_invalid_args(world: FsWorld, fs: Fs) -> None:
    (world.data / "latin.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(InvalidArgs, match=r"not valid utf-8 text \(byte 3\)"):
        fs("read_text", path="$APPDATA/data/latin.txt")
    assert fs("read_text", path="$APPDATA/data/latin.txt", encoding="latin-1") == "café"
    for bad in (
        "no-such-codec",
        "base64",
        "rot13",
        "zlib",
        "hex",
        "undefined",
        "idna",
        "punycode",
        "",
    ):
        with pytest.raises(InvalidArgs, match="encoding"):
            fs("read_text", path="$APPDATA/data/latin.txt", encoding=bad)
        with pytest.raises(InvalidArgs, match="encoding"):
            fs("write_text", path="$APPDATA/data/w.txt", contents="x", encoding=bad)
        with pytest.raises(InvalidArgs, match="encoding"):
            fs("append_text", path="$APPDATA/data/w.txt", contents="x", encoding=bad)
    for cmd in ("write_text", "append_text"):
        with pytest.raises(InvalidArgs, match="cannot be written as ascii"):
            fs(cmd, path="$APPDATA/data/w.txt", contents="café", encoding="ascii")
        with pytest.raises(InvalidArgs, match="cannot be written as utf-8"):
            fs(cmd, path="$APPDATA/data/w.txt", contents="lone \ud800 surrogate")
    assert not (world.data / "w.txt").exists()


def test_read_limits(world: FsWorld) -> None:
    fs = world.fs(max_read_bytes=10)
    (world.data / "ten").write_bytes(b"0123456789")
    (world.data / "eleven").write_bytes(b"0123456789a")
    assert fs("read_bytes", path="$APPDATA/data/ten") == b"0123456789"
    assert fs("read_text", path="$APPDATA/data/ten") == "0123456789"
    for cmd in ("read_bytes", "read_text"):
        with pytest.raises(CommandError, match="reads at most 10") as info:
            fs(cmd, path="$APPDATA/data/eleven")
        assert info.value.code == "too_large"
    with pytest.raises(CommandError, match="copies at most 10") as info:
        fs("copy", src="$APPDATA/data/eleven", dst="$APPDATA/data/copy")
    assert info.value.code == "too_large"
    assert not (world.data / "copy").exists()
    fs("copy", src="$APPDATA/data/ten", dst="$APPDATA/data/copy")
    assert (world.data / "copy").read_bytes() == b"0123456789"


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs procfs")
def test_files_whose_size_lies_are_read_to_the_end_under_the_limit(world: FsWorld) -> None:
    fs = world.fs()
    fs.session.grants.add_path("/proc/self/status")
    assert os.stat("/proc/self/status").st_size == 0
    assert "Pid:" in fs("read_text", path="/proc/self/status")
    small = world.fs(max_read_bytes=64)
    small.session.grants.add_path("/proc/self/status")
    with pytest.raises(CommandError, match="larger than 64 bytes") as info:
        small("read_bytes", path="/proc/self/status")
    assert info.value.code == "too_large"


def test_read_errors(world: FsWorld, fs: Fs) -> None:
    (world.data / "sub").mkdir()
    os.mkfifo(world.data / "fifo")
    with pytest.raises(CommandFailed, match="does not exist") as info:
        fs("read_text", path="$APPDATA/data/missing.txt")
    assert info.value.data == {"errno": "ENOENT"}
    assert fs.code("read_text", path="$APPDATA/data/sub") == "invalid_args"
    assert no_hang(lambda: fs.code("read_bytes", path="$APPDATA/data/fifo")) == "invalid_args"
    assert fs.code("read_text", path="$APPDATA/secret.txt") == "out_of_scope"
    assert fs.code("read_text", path="$APPDATA/notes/sub/x.txt") == "out_of_scope"
    assert fs.code("read_text", path=str(world.secret)) == "out_of_scope"
    assert fs.code("read_text", path="$APPDATA/data/secret/pw.txt") == "out_of_scope"
    assert fs.code("read_text", path="$APPDATA/data/id.key") == "out_of_scope"


# -- writing -------------------------------------------------------------------------


def test_write_creates_and_replaces_atomically(world: FsWorld, fs: Fs) -> None:
    target = world.data / "w.txt"
    fs("write_text", path="$APPDATA/data/w.txt", contents="one")
    assert target.read_text() == "one"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    before = target.stat().st_ino
    fs("write_bytes", path="$APPDATA/data/w.txt", data=b"two\x00\xff")
    assert target.read_bytes() == b"two\x00\xff"
    assert target.stat().st_ino != before  # a new file was renamed over the old one
    fs("write_text", path="$APPDATA/data/w.txt", contents="")
    assert target.read_bytes() == b""
    assert names(world.data) == ["w.txt"]  # no temporary files left


def test_write_accepts_byte_views(world: FsWorld, fs: Fs) -> None:
    fs("write_bytes", path="$APPDATA/data/b", data=bytearray(b"ab"))
    assert (world.data / "b").read_bytes() == b"ab"
    fs("write_bytes", path="$APPDATA/data/b", data=memoryview(b"cd"))
    assert (world.data / "b").read_bytes() == b"cd"


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644, 0o755, 0o400])
def test_write_keeps_permissions(world: FsWorld, fs: Fs, mode: int) -> None:
    target = world.data / "p.txt"
    target.write_text("old")
    target.chmod(mode)
    fs("write_text", path="$APPDATA/data/p.txt", contents="new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == mode
    fs("write_bytes", path="$APPDATA/data/p.txt", data=b"newer")
    assert stat.S_IMODE(target.stat().st_mode) == mode
    fs("copy", src="$APPDATA/data/p.txt", dst="$APPDATA/data/p.txt")
    assert stat.S_IMODE(target.stat().st_mode) == mode


def test_write_through_a_symlink_in_scope_writes_its_target(world: FsWorld, fs: Fs) -> None:
    (world.data / "real.txt").write_text("old")
    (world.data / "link.txt").symlink_to("real.txt")
    fs("write_text", path="$APPDATA/data/link.txt", contents="new")
    assert (world.data / "real.txt").read_text() == "new"
    assert (world.data / "link.txt").is_symlink()


def test_write_errors(world: FsWorld, fs: Fs) -> None:
    (world.data / "dir").mkdir()
    os.mkfifo(world.data / "fifo")
    before = names(world.data)
    with pytest.raises(CommandFailed, match="does not exist"):
        fs("write_text", path="$APPDATA/data/nope/a.txt", contents="x")
    with pytest.raises(InvalidArgs, match="not a regular file"):
        fs("write_text", path="$APPDATA/data/dir", contents="x")
    with pytest.raises(InvalidArgs, match="not a regular file"):
        no_hang(lambda: fs("write_bytes", path="$APPDATA/data/fifo", data=b"x"))
    assert fs.code("write_text", path="$APPDATA/notes/.hidden", contents="x") == "out_of_scope"
    assert fs.code("write_text", path="$APPDATA/data/x.key", contents="x") == "out_of_scope"
    assert fs.code("write_text", path="$APPDATA/top.txt", contents="x") == "out_of_scope"
    assert fs.code("write_text", path=str(world.secret), contents="x") == "out_of_scope"
    assert names(world.data) == before
    assert names(world.appdata) == ["data", "notes"]
    assert world.secret.read_text() == "outside secret"


def test_a_failed_write_leaves_the_old_file_and_no_debris(world: FsWorld) -> None:
    target = world.data / "w.txt"
    target.write_text("old")

    def chunks_then(error: BaseException) -> Iterator[bytes]:
        yield b"new new new"
        raise error

    for error in (OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()):
        with pytest.raises((CommandFailed, KeyboardInterrupt)):
            ramparts_fs.commands._atomic_write(target, chunks_then(error))
        assert target.read_text() == "old"
        assert names(world.data) == ["w.txt"]


def test_append(world: FsWorld, fs: Fs) -> None:
    fs("append_text", path="$APPDATA/data/log.txt", contents="one\n")
    fs("append_text", path="$APPDATA/data/log.txt", contents="two\n")
    assert (world.data / "log.txt").read_text() == "one\ntwo\n"
    (world.data / "dir").mkdir()
    os.mkfifo(world.data / "fifo")
    assert fs.code("append_text", path="$APPDATA/data/dir", contents="x") == "invalid_args"
    assert (
        no_hang(lambda: fs.code("append_text", path="$APPDATA/data/fifo", contents="x"))
        == "invalid_args"
    )
    assert fs.code("append_text", path="$APPDATA/data/no/x", contents="x") == "failed"
    assert fs.code("append_text", path=str(world.secret), contents="x") == "out_of_scope"
    assert world.secret.read_text() == "outside secret"


# -- listing, stat, exists -----------------------------------------------------------


def test_list_dir_shows_only_entries_in_scope(world: FsWorld, fs: Fs) -> None:
    (world.data / "b.txt").write_text("bbb")
    (world.data / "a.txt").write_text("a")
    (world.data / ".dot").write_text("dotted: data/** does not cover it")
    (world.data / "sub").mkdir()
    (world.data / "id.key").write_text("k")
    (world.data / "ID.KEY").write_text("k")
    (world.data / "secret").mkdir()
    (world.data / "out-link").symlink_to(world.secret)
    os.mkfifo(world.data / "fifo")
    listing = fs("list_dir", path="$APPDATA/data")
    assert [e["name"] for e in listing] == ["a.txt", "b.txt", "fifo", "out-link", "sub"]
    assert fs.code("read_text", path="$APPDATA/data/.dot") == "out_of_scope"
    by_name = {e["name"]: e for e in listing}
    assert by_name["b.txt"] == {"name": "b.txt", "kind": "file", "size": 3}
    assert by_name["sub"]["kind"] == "dir"
    assert by_name["out-link"]["kind"] == "symlink"  # the name is listed, not followed
    assert by_name["fifo"]["kind"] == "other"
    (world.notes / "n.txt").write_text("n")
    (world.notes / ".hidden").write_text("h")
    (world.notes / "x.key").write_text("k")
    assert [e["name"] for e in fs("list_dir", path="$APPDATA/notes")] == ["n.txt"]
    assert fs("list_dir", path="$APPDATA/data/sub") == []


def test_list_dir_errors(world: FsWorld, fs: Fs) -> None:
    (world.data / "f.txt").write_text("f")
    (world.data / "dirlink").symlink_to(world.outside)
    assert fs.code("list_dir", path="$APPDATA") == "out_of_scope"
    assert fs.code("list_dir", path="$APPDATA/data/secret") == "out_of_scope"
    assert fs.code("list_dir", path="$APPDATA/data/dirlink") == "out_of_scope"
    assert fs.code("list_dir", path=str(world.outside)) == "out_of_scope"
    assert fs.code("list_dir", path="$APPDATA/data/f.txt") == "invalid_args"
    assert fs.code("list_dir", path="$APPDATA/data/missing") == "failed"


def test_list_dir_with_grants(world: FsWorld) -> None:
    fs = Fs(world, {"scope": {"allow": ["$APPDATA/data/**"], "deny": ["/**/*.key"]}})
    (world.outside / "picked").mkdir()
    (world.outside / "picked" / "x.txt").write_text("x")
    (world.outside / "picked" / "y.key").write_text("y")
    fs.session.grants.add_path(world.outside / "picked")  # the folder alone
    assert fs("list_dir", path=str(world.outside / "picked")) == []
    fs.session.grants.add_path(world.outside / "picked", recursive=True)
    listing = fs("list_dir", path=str(world.outside / "picked"))
    assert [e["name"] for e in listing] == ["x.txt"]  # deny still hides y.key


def test_stat(world: FsWorld, fs: Fs) -> None:
    f = world.data / "f.txt"
    f.write_text("12345")
    f.chmod(0o640)
    (world.data / "d").mkdir()
    (world.data / "link").symlink_to("f.txt")
    os.mkfifo(world.data / "fifo")
    info = fs("stat", path="$APPDATA/data/f.txt")
    assert info == {
        "size": 5,
        "kind": "file",
        "mode": 0o640,
        "modified": f.stat().st_mtime,
        "readonly": not os.access(f, os.W_OK),
    }
    assert fs("stat", path="$APPDATA/data/d")["kind"] == "dir"
    assert fs("stat", path="$APPDATA/data/link")["kind"] == "file"  # followed, in scope
    assert fs("stat", path="$APPDATA/data/fifo")["kind"] == "other"
    assert fs.code("stat", path="$APPDATA/data/missing") == "failed"
    assert fs.code("stat", path=str(world.secret)) == "out_of_scope"


def test_stat_readonly(world: FsWorld) -> None:
    # A folder nobody can reach (pytest's own tmp folders are 0700 under root).
    folder = Path(tempfile.mkdtemp(prefix="ramparts-ro-"))
    try:
        folder.chmod(0o755)
        (folder / "ro.txt").write_text("r")
        (folder / "ro.txt").chmod(0o444)
        (folder / "rw.txt").write_text("w")
        (folder / "rw.txt").chmod(0o666)
        fs = Fs(world, {"scope": {"allow": [f"{os.path.realpath(folder)}/*"]}})
        result = unprivileged.call(
            lambda: {n: fs("stat", path=str(folder / n))["readonly"] for n in ("ro.txt", "rw.txt")}
        )
        assert result == {"ro.txt": True, "rw.txt": False}
    finally:
        shutil.rmtree(folder)


def test_exists(world: FsWorld, fs: Fs) -> None:
    (world.data / "f.txt").write_text("f")
    (world.data / "dangling").symlink_to(world.data / "gone")
    (world.data / "out").symlink_to(world.secret)
    assert fs("exists", path="$APPDATA/data/f.txt") is True
    assert fs("exists", path="$APPDATA/data/none") is False
    assert fs("exists", path="$APPDATA/data/dangling") is False
    # out of scope is an error, never a yes/no answer about the outside
    assert fs.code("exists", path=str(world.secret)) == "out_of_scope"
    assert fs.code("exists", path=str(world.outside / "nothing")) == "out_of_scope"
    assert fs.code("exists", path="$APPDATA/data/out") == "out_of_scope"
    assert fs.code("exists", path="$APPDATA/data/secret/x") == "out_of_scope"


# -- mkdir ---------------------------------------------------------------------------


def test_mkdir(world: FsWorld, fs: Fs) -> None:
    fs("mkdir", path="$APPDATA/data/a")
    assert (world.data / "a").is_dir()
    fs("mkdir", path="$APPDATA/data/a")  # already there: fine
    fs("mkdir", path="$APPDATA/data/b/c/d")  # parents default to true
    assert (world.data / "b/c/d").is_dir()
    with pytest.raises(InvalidArgs, match="pass parents: true"):
        fs("mkdir", path="$APPDATA/data/x/y", parents=False)
    assert not (world.data / "x").exists()
    fs("mkdir", path="$APPDATA/data/x", parents=False)
    assert (world.data / "x").is_dir()
    (world.data / "file").write_text("f")
    with pytest.raises(InvalidArgs, match="not a directory"):
        fs("mkdir", path="$APPDATA/data/file")
    assert fs.code("mkdir", path="$APPDATA/data/file/sub") == "invalid_args"


def test_mkdir_never_creates_parents_outside_the_scope(world: FsWorld) -> None:
    target = world.outside / "a" / "b" / "c"
    fs = Fs(world, {"scope": {"allow": [str(target)]}})
    with pytest.raises(OutOfScope, match="would create"):
        fs("mkdir", path=str(target))
    assert not (world.outside / "a").exists()
    fs = world.fs()
    assert fs.code("mkdir", path="$APPDATA/notes/a/b") == "out_of_scope"
    assert fs.code("mkdir", path="$APPDATA/notes/.git") == "out_of_scope"
    assert fs.code("mkdir", path="$APPDATA/data/secret") == "out_of_scope"
    # a denied directory on the way is refused even when the target itself is not denied
    fs = Fs(world, {"scope": {"allow": ["$APPDATA/data/**"], "deny": ["$APPDATA/data/priv"]}})
    assert fs.code("mkdir", path="$APPDATA/data/priv/x") == "out_of_scope"
    assert names(world.data) == []
    assert names(world.notes) == []


def test_mkdir_creates_missing_app_directories(world: FsWorld) -> None:
    """``$APPDATA`` itself is made by the scope on first use (tests/test_fresh_home.py)."""
    for d in (world.data, world.notes, world.appdata):
        d.rmdir()
    fs = world.fs()
    fs("mkdir", path="$APPDATA/data/sub")
    assert (world.appdata / "data" / "sub").is_dir()


# -- remove --------------------------------------------------------------------------


def test_remove_files_links_and_directories(world: FsWorld, fs: Fs) -> None:
    (world.data / "f.txt").write_text("f")
    (world.data / "out-link").symlink_to(world.secret)
    (world.data / "dir-link").symlink_to(world.outside)
    (world.data / "tree/sub").mkdir(parents=True)
    (world.data / "tree/sub/x.txt").write_text("x")
    (world.data / "tree/.dot").write_text("d")
    (world.data / "tree/escape").symlink_to(world.outside)
    fs("remove", path="$APPDATA/data/f.txt")
    fs("remove", path="$APPDATA/data/out-link")  # the link goes, its target stays
    fs("remove", path="$APPDATA/data/dir-link/")
    assert world.secret.read_text() == "outside secret"
    with pytest.raises(InvalidArgs, match="pass recursive: true"):
        fs("remove", path="$APPDATA/data/tree")
    assert (world.data / "tree/sub/x.txt").exists()
    # "data/**" does not cover tree/.dot, so the page may not delete it with the tree
    assert fs.code("remove", path="$APPDATA/data/tree", recursive=True) == "out_of_scope"
    assert (world.data / "tree/.dot").exists() and (world.data / "tree/sub/x.txt").exists()
    (world.data / "tree/.dot").unlink()
    fs("remove", path="$APPDATA/data/tree", recursive=True)
    assert names(world.data) == []
    assert names(world.outside) == ["secret.txt"]  # the link inside the tree was not followed
    (world.data / "empty").mkdir()
    assert fs.code("remove", path="$APPDATA/data/empty") == "invalid_args"
    fs("remove", path="$APPDATA/data/empty", recursive=True)
    assert fs.code("remove", path="$APPDATA/data/missing") == "failed"


def test_remove_refuses_out_of_scope_targets(world: FsWorld, fs: Fs) -> None:
    (world.data / "dir-link").symlink_to(world.outside)
    (world.data / "secret").mkdir()
    (world.data / "secret" / "pw").write_text("pw")
    (world.notes / ".hidden").write_text("h")
    assert fs.code("remove", path=str(world.secret)) == "out_of_scope"
    assert fs.code("remove", path="$APPDATA/data/dir-link/secret.txt") == "out_of_scope"
    assert fs.code("remove", path="$APPDATA/data/secret", recursive=True) == "out_of_scope"
    assert fs.code("remove", path="$APPDATA/data/SECRET/pw") == "out_of_scope"
    assert fs.code("remove", path="$APPDATA/notes/.hidden") == "out_of_scope"
    assert fs.code("remove", path=str(world.outside), recursive=True) == "out_of_scope"
    assert world.secret.exists() and (world.data / "secret/pw").exists()
    assert (world.notes / ".hidden").exists()


def test_recursive_remove_refuses_a_tree_holding_a_denied_file(world: FsWorld, fs: Fs) -> None:
    (world.data / "tree/deep/deeper").mkdir(parents=True)
    (world.data / "tree/a.txt").write_text("a")
    (world.data / "tree/deep/deeper/id.key").write_text("k")
    with pytest.raises(OutOfScope, match=r"id\.key"):
        fs("remove", path="$APPDATA/data/tree", recursive=True)
    with pytest.raises(OutOfScope, match=r"id\.key"):
        fs("remove", path="$APPDATA/data", recursive=True)
    assert (world.data / "tree/a.txt").exists()  # refused before anything was removed
    assert (world.data / "tree/deep/deeper/id.key").exists()


def test_recursive_remove_refuses_a_tree_holding_files_outside_the_scope(
    world: FsWorld, fs: Fs
) -> None:
    # "$APPDATA/notes/*" covers notes/sub, but not what is inside it
    (world.notes / "sub").mkdir()
    (world.notes / "sub" / "deep.txt").write_text("deep")
    assert fs.code("read_text", path="$APPDATA/notes/sub/deep.txt") == "out_of_scope"
    with pytest.raises(OutOfScope, match=r"deep\.txt"):
        fs("remove", path="$APPDATA/notes/sub", recursive=True)
    assert (world.notes / "sub" / "deep.txt").read_text() == "deep"
    (world.notes / "sub" / "deep.txt").unlink()
    fs("remove", path="$APPDATA/notes/sub", recursive=True)
    assert not (world.notes / "sub").exists()


def test_remove_with_grants(world: FsWorld, fs: Fs) -> None:
    tree = world.outside / "picked"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "x").write_text("x")
    fs.session.grants.add_path(tree)
    assert fs.code("remove", path=str(tree), recursive=True) == "out_of_scope"
    fs.session.grants.add_path(tree, recursive=True)
    fs("remove", path=str(tree), recursive=True)
    assert names(world.outside) == ["secret.txt"]


# -- rename and copy -----------------------------------------------------------------


def test_rename(world: FsWorld, fs: Fs) -> None:
    (world.data / "a.txt").write_text("a")
    (world.data / "b.txt").write_text("b")
    fs("rename", src="$APPDATA/data/a.txt", dst="$APPDATA/notes/a.txt")
    assert (world.notes / "a.txt").read_text() == "a"
    fs("rename", src="$APPDATA/notes/a.txt", dst="$APPDATA/data/b.txt")  # replaces a file
    assert (world.data / "b.txt").read_text() == "a"
    assert names(world.notes) == []
    (world.data / "tree/sub").mkdir(parents=True)
    (world.data / "tree/sub/x").write_text("x")
    fs("rename", src="$APPDATA/data/tree", dst="$APPDATA/data/moved")
    assert (world.data / "moved/sub/x").read_text() == "x"
    (world.data / "out-link").symlink_to(world.secret)
    fs("rename", src="$APPDATA/data/out-link", dst="$APPDATA/data/link2")  # moves the link
    assert os.readlink(world.data / "link2") == str(world.secret)
    assert fs.code("read_text", path="$APPDATA/data/link2") == "out_of_scope"
    assert fs.code("rename", src="$APPDATA/data/missing", dst="$APPDATA/data/m") == "failed"
    (world.data / "dir").mkdir()
    (world.data / "dir" / "f").write_text("f")
    assert fs.code("rename", src="$APPDATA/data/b.txt", dst="$APPDATA/data/dir") == "invalid_args"


def test_rename_checks_both_ends(world: FsWorld, fs: Fs) -> None:
    (world.data / "a.txt").write_text("a")
    (world.data / "secret").mkdir()
    (world.data / "secret" / "pw").write_text("pw")
    (world.data / "dir-link").symlink_to(world.outside)
    cases = [
        ("$APPDATA/data/a.txt", str(world.outside / "a.txt")),
        ("$APPDATA/data/a.txt", "$APPDATA/data/dir-link/a.txt"),
        ("$APPDATA/data/a.txt", "$APPDATA/data/secret/a.txt"),
        ("$APPDATA/data/a.txt", "$APPDATA/data/a.key"),
        ("$APPDATA/data/a.txt", "$APPDATA/notes/.a.txt"),
        ("$APPDATA/data/a.txt", "$APPDATA/a.txt"),
        (str(world.secret), "$APPDATA/data/stolen.txt"),
        ("$APPDATA/data/dir-link/secret.txt", "$APPDATA/data/stolen.txt"),
        ("$APPDATA/data/secret/pw", "$APPDATA/data/pw"),
        ("$APPDATA/data/secret", "$APPDATA/data/open"),
    ]
    for src, dst in cases:
        assert fs.code("rename", src=src, dst=dst) == "out_of_scope", (src, dst)
    assert names(world.data) == ["a.txt", "dir-link", "secret"]
    assert names(world.outside) == ["secret.txt"]
    assert (world.data / "secret" / "pw").exists()


def test_renaming_a_directory_checks_every_entry_at_both_ends(world: FsWorld) -> None:
    fs = Fs(
        world,
        {
            "scope": {
                "allow": ["$APPDATA/data/**", "$APPDATA/notes/*"],
                "deny": ["$APPDATA/data/vault/*.key"],
            }
        },
    )
    (world.data / "vault").mkdir()
    (world.data / "vault" / "id.key").write_text("KEY")
    assert fs.code("read_text", path="$APPDATA/data/vault/id.key") == "out_of_scope"
    # moving the folder would make the denied file readable under another name
    with pytest.raises(OutOfScope, match=r"id\.key"):
        fs("rename", src="$APPDATA/data/vault", dst="$APPDATA/data/open")
    assert (world.data / "vault" / "id.key").read_text() == "KEY"
    assert not (world.data / "open").exists()
    # moving a tree to where its entries would fall outside the scope
    (world.data / "tree").mkdir()
    (world.data / "tree" / "x.txt").write_text("x")
    with pytest.raises(OutOfScope, match=r"x\.txt"):
        fs("rename", src="$APPDATA/data/tree", dst="$APPDATA/notes/tree")
    assert (world.data / "tree" / "x.txt").exists()
    # and from where they were outside the scope into it
    (world.notes / "box").mkdir()
    (world.notes / "box" / "hidden.txt").write_text("h")
    with pytest.raises(OutOfScope, match=r"hidden\.txt"):
        fs("rename", src="$APPDATA/notes/box", dst="$APPDATA/data/box")
    assert not (world.data / "box").exists()
    (world.notes / "box" / "hidden.txt").unlink()
    fs("rename", src="$APPDATA/notes/box", dst="$APPDATA/data/box")
    assert (world.data / "box").is_dir()


def test_copy(world: FsWorld, fs: Fs) -> None:
    blob = os.urandom(3 * 1024 * 1024 + 7)  # several read chunks
    (world.data / "src.bin").write_bytes(blob)
    fs("copy", src="$APPDATA/data/src.bin", dst="$APPDATA/data/dst.bin")
    assert (world.data / "dst.bin").read_bytes() == blob
    (world.notes / "n.txt").write_text("old")
    (world.notes / "n.txt").chmod(0o600)
    fs("copy", src="$APPDATA/data/src.bin", dst="$APPDATA/notes/n.txt")
    assert (world.notes / "n.txt").read_bytes() == blob
    assert stat.S_IMODE((world.notes / "n.txt").stat().st_mode) == 0o600
    assert names(world.data) == ["dst.bin", "src.bin"]


def test_copy_checks_both_ends_and_file_kinds(world: FsWorld, fs: Fs) -> None:
    (world.data / "a.txt").write_text("a")
    (world.data / "dir").mkdir()
    os.mkfifo(world.data / "fifo")
    (world.data / "out-link").symlink_to(world.secret)
    (world.data / "dir-link").symlink_to(world.outside)
    (world.data / "secret").mkdir()
    (world.data / "secret" / "pw").write_text("pw")
    expected = [
        ({"src": str(world.secret), "dst": "$APPDATA/data/s.txt"}, "out_of_scope"),
        ({"src": "$APPDATA/data/out-link", "dst": "$APPDATA/data/s.txt"}, "out_of_scope"),
        ({"src": "$APPDATA/data/secret/pw", "dst": "$APPDATA/data/pw"}, "out_of_scope"),
        ({"src": "$APPDATA/data/a.txt", "dst": str(world.outside / "a.txt")}, "out_of_scope"),
        ({"src": "$APPDATA/data/a.txt", "dst": "$APPDATA/data/out-link"}, "out_of_scope"),
        ({"src": "$APPDATA/data/a.txt", "dst": "$APPDATA/data/dir-link/a"}, "out_of_scope"),
        ({"src": "$APPDATA/data/a.txt", "dst": "$APPDATA/data/secret/a"}, "out_of_scope"),
        ({"src": "$APPDATA/data/a.txt", "dst": "$APPDATA/data/a.key"}, "out_of_scope"),
        ({"src": "$APPDATA/data/dir", "dst": "$APPDATA/data/d2"}, "invalid_args"),
        ({"src": "$APPDATA/data/fifo", "dst": "$APPDATA/data/f2"}, "invalid_args"),
        ({"src": "$APPDATA/data/a.txt", "dst": "$APPDATA/data/dir"}, "invalid_args"),
        ({"src": "$APPDATA/data/a.txt", "dst": "$APPDATA/data/fifo"}, "invalid_args"),
        ({"src": "$APPDATA/data/missing", "dst": "$APPDATA/data/m"}, "failed"),
    ]
    for args, code in expected:
        assert no_hang(lambda args=args: fs.code("copy", **args)) == code, args
    assert names(world.data) == ["a.txt", "dir", "dir-link", "fifo", "out-link", "secret"]
    assert names(world.outside) == ["secret.txt"]
    assert world.secret.read_text() == "outside secret"


# -- grants --------------------------------------------------------------------------


def test_a_granted_file_is_usable_and_its_siblings_are_not(world: FsWorld, fs: Fs) -> None:
    picked = world.outside / "picked.txt"
    picked.write_text("picked")
    assert fs.code("read_text", path=str(picked)) == "out_of_scope"
    assert fs.session.grants.add_path(picked) == str(picked)
    assert fs("read_text", path=str(picked)) == "picked"
    fs("write_text", path=str(picked), contents="edited")
    assert picked.read_text() == "edited"
    assert fs.code("read_text", path=str(world.secret)) == "out_of_scope"
    assert fs.code("write_text", path=str(world.outside / "new.txt"), contents="x") == (
        "out_of_scope"
    )
    # another session (another window, or a reload) does not see the grant
    other = world.fs()
    assert other.code("read_text", path=str(picked)) == "out_of_scope"


# -- swaps after the check (another process racing the command) ----------------------


@pytest.fixture
def racer(world: FsWorld, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``racer(path)``: right after ``path`` passes the scope check, ``data/sub`` is
    replaced by a symlink to the outside directory (which mirrors its layout)."""
    for root, text in ((world.data / "sub", "inside"), (world.outside, "outside")):
        (root / "deeper" / "inner").mkdir(parents=True)
        (root / "f.txt").write_text(text)
        (root / "deeper" / "f.txt").write_text(text)
        (root / "deeper" / "inner" / "f.txt").write_text(text)
    real = ramparts_fs.commands._resolve

    def arm(trigger: str) -> None:
        def resolve_then_swap(ctx: CallContext, path: str, **kw: Any) -> Path:
            checked = real(ctx, path, **kw)
            if path == trigger:
                (world.data / "sub").rename(world.data / "sub.orig")
                (world.data / "sub").symlink_to(world.outside)
            return checked

        monkeypatch.setattr(ramparts_fs.commands, "_resolve", resolve_then_swap)

    return arm


def outside_state(world: FsWorld) -> dict[str, bytes]:
    return {
        str(p.relative_to(world.outside)): p.read_bytes()
        for p in sorted(world.outside.rglob("*"))
        if p.is_file()
    }


RACES = [
    ("read_text", {"path": "$APPDATA/data/sub/deeper/f.txt"}),
    ("read_bytes", {"path": "$APPDATA/data/sub/f.txt"}),
    ("write_text", {"path": "$APPDATA/data/sub/f.txt", "contents": "X"}),
    ("write_text", {"path": "$APPDATA/data/sub/deeper/f.txt", "contents": "X"}),
    ("write_bytes", {"path": "$APPDATA/data/sub/deeper/new.txt", "data": b"X"}),
    ("append_text", {"path": "$APPDATA/data/sub/deeper/f.txt", "contents": "X"}),
    ("list_dir", {"path": "$APPDATA/data/sub/deeper"}),
    ("remove", {"path": "$APPDATA/data/sub/f.txt"}),
    ("remove", {"path": "$APPDATA/data/sub/deeper/f.txt"}),
    ("remove", {"path": "$APPDATA/data/sub/deeper", "recursive": True}),
    ("remove", {"path": "$APPDATA/data/sub/deeper/inner", "recursive": True}),
    ("copy", {"src": "$APPDATA/data/sub/deeper/f.txt", "dst": "$APPDATA/data/c"}),
]


@pytest.mark.parametrize(("name", "args"), RACES, ids=[r[0] for r in RACES])
def test_a_parent_swapped_after_the_check_is_caught(
    world: FsWorld, fs: Fs, racer: Callable[[str], None], name: str, args: Any
) -> None:
    before = outside_state(world)
    racer(args.get("path", args.get("src")))
    assert fs.code(name, **args) == "out_of_scope"
    assert outside_state(world) == before
    assert sorted(p.name for p in world.outside.rglob("*")) == [
        "deeper",
        "f.txt",
        "f.txt",
        "f.txt",
        "inner",
        "secret.txt",
    ]


def test_rename_with_a_parent_swapped_after_the_check(
    world: FsWorld, fs: Fs, racer: Callable[[str], None]
) -> None:
    before = outside_state(world)
    (world.data / "mine.txt").write_text("mine")
    # the source's parent swapped: the outside file must not be pulled into the scope
    racer("$APPDATA/data/sub/deeper/f.txt")
    src, dst = "$APPDATA/data/sub/deeper/f.txt", "$APPDATA/data/pulled.txt"
    assert fs.code("rename", src=src, dst=dst) == "out_of_scope"
    assert not (world.data / "pulled.txt").exists()
    assert outside_state(world) == before


def test_rename_with_the_destination_parent_swapped_after_the_check(
    world: FsWorld, fs: Fs, racer: Callable[[str], None]
) -> None:
    before = outside_state(world)
    (world.data / "mine.txt").write_text("mine")
    racer("$APPDATA/data/sub/deeper/pushed.txt")
    src, dst = "$APPDATA/data/mine.txt", "$APPDATA/data/sub/deeper/pushed.txt"
    assert fs.code("rename", src=src, dst=dst) == "out_of_scope"
    assert (world.data / "mine.txt").read_text() == "mine"
    assert outside_state(world) == before


def test_a_final_symlink_swapped_in_after_the_check_is_caught(
    world: FsWorld, fs: Fs, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = world.data / "f.txt"
    f.write_text("inside")
    real = ramparts_fs.commands._resolve

    def resolve_then_swap(ctx: CallContext, path: str, **kw: Any) -> Path:
        checked = real(ctx, path, **kw)
        if f.is_file() and not f.is_symlink():
            f.unlink()
            f.symlink_to(world.secret)
        return checked

    monkeypatch.setattr(ramparts_fs.commands, "_resolve", resolve_then_swap)
    assert fs.code("read_text", path="$APPDATA/data/f.txt") == "out_of_scope"
    f.unlink()
    f.write_text("inside")
    assert fs.code("append_text", path="$APPDATA/data/f.txt", contents="X") == "out_of_scope"
    f.unlink()
    f.write_text("inside")
    # the atomic write refuses to replace what is no longer a regular file
    assert fs.code("write_text", path="$APPDATA/data/f.txt", contents="X") == "invalid_args"
    assert world.secret.read_text() == "outside secret"


# -- crash safety --------------------------------------------------------------------


def _check_after_kill(folder: Path, target: Path) -> tuple[bytes, list[bytes]]:
    """The target holds exactly one of the two contents; the only other entries are
    temporary files, each a prefix of one content. Returns (content, debris)."""
    entries = names(folder)
    assert target.name in entries
    others = [n for n in entries if n != target.name]
    assert all(TEMP.fullmatch(n) for n in others), others
    content = target.read_bytes()
    assert len(content) == SIZE and content in CONTENTS
    debris = []
    for n in others:
        partial = (folder / n).read_bytes()
        assert any(partial == c[: len(partial)] for c in CONTENTS)
        debris.append(partial)
        (folder / n).unlink()
    return content, debris


@pytest.fixture
def crash_target(world: FsWorld) -> Path:
    folder = world.root / "crash"
    folder.mkdir()
    target = folder / "target.bin"
    fs = Fs(world, {"scope": {"allow": [f"{folder}/*"]}})
    fs("write_bytes", path=str(target), data=CONTENTS[0])
    return target


def test_killed_at_random_moments_the_file_is_old_or_new(crash_target: Path) -> None:
    """The issue's crash test: SIGKILL at random moments during many 2 MiB writes; the
    file always holds either the old or the new content, never a mix or nothing."""
    folder = crash_target.parent
    rng = random.Random()
    seen: set[bytes] = set()
    completed = 0
    for _ in range(30):
        proc = started(WRITER, str(crash_target), "loop", says="ready")
        time.sleep(rng.uniform(0, 0.04))  # a few writes at most; where it lands is random
        completed += kill(proc).count(b"wrote\n")
        content, _ = _check_after_kill(folder, crash_target)
        seen.add(content)
    # However the random kills landed, one run killed only after a complete write: the
    # file must then hold the other content. Fails if writes never complete.
    before = crash_target.read_bytes()
    kill(started(WRITER, str(crash_target), "once", says="wrote"))
    content, debris = _check_after_kill(folder, crash_target)
    assert content != before and debris == []
    seen.add(content)
    assert seen == set(CONTENTS), f"{completed} writes completed before the random kills"


@pytest.mark.parametrize(
    ("mode", "content", "debris"),
    [
        ("mid-write", 0, SIZE // 2),  # killed half-way through the temporary file
        ("before-rename", 0, SIZE),  # killed with the new content complete, not renamed
        ("after-rename", 1, None),  # killed right after the rename
    ],
)
def test_killed_at_each_step_of_a_write(
    crash_target: Path, mode: str, content: int, debris: int | None
) -> None:
    kill(started(WRITER, str(crash_target), mode, says="paused"))
    found, leftovers = _check_after_kill(crash_target.parent, crash_target)
    assert found == CONTENTS[content]
    if debris is None:
        assert leftovers == []
    else:
        assert leftovers == [CONTENTS[1][:debris]]
