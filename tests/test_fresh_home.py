"""A person's first run on a fresh account: a home with no ``~/.local``, no ``~/.config``.

The core makes the app's own base directories (``$APPDATA``, ``$APPCONFIG``,
``$APPCACHE``, ``$APPLOG``) that its scopes allow, on first use, private to the user;
without that the page's first write inside ``$APPDATA`` was ``out_of_scope`` (the
folders above it are in no scope).
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import textwrap
from pathlib import Path

import pytest
from app_folders import write_app

from ramparts.errors import OutOfScope
from ramparts.testing import app_dirs, eval_in_app, open_bridge
from ramparts.toolkit.dirs import make_app_dir

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes and symlinks")

IDENT = "dev.ramparts.freshhome"
XDG = ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME")

FS = textwrap.dedent(
    """
    [tool.ramparts.capabilities.fs]
    allow = ["mkdir", "write_text", "read_text"]

    [tool.ramparts.capabilities.fs.scope]
    allow = ["$APPDATA/**", "$APPCONFIG/settings.toml"]
    """
)


@pytest.fixture
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$HOME`` is an empty folder and no XDG variable is set, as on a new account.

    Set in this process, so the app subprocess of ``eval_in_app`` inherits it.
    """
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in XDG:
        monkeypatch.delenv(name, raising=False)
    return home


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.webview
def test_the_first_write_in_appdata_works_on_a_fresh_account(
    tmp_path: Path, empty_home: Path
) -> None:
    app = write_app(tmp_path / "app", capabilities=FS)
    toml = app / "pyproject.toml"
    toml.write_text(toml.read_text().replace("dev.ramparts.test", IDENT))
    result = eval_in_app(
        app,
        """
        await ramparts.fs.mkdir({ path: "$APPDATA/notes" });
        await ramparts.fs.write_text({ path: "$APPDATA/notes/first.md", contents: "# First" });
        await ramparts.fs.write_text({ path: "$APPCONFIG/settings.toml", contents: "a = 1" });
        return [
          await ramparts.fs.read_text({ path: "$APPDATA/notes/first.md" }),
          await ramparts.fs.read_text({ path: "$APPCONFIG/settings.toml" }),
        ];
        """,
    )
    assert result == ["# First", "a = 1"]
    data = empty_home / ".local" / "share" / IDENT
    assert (data / "notes" / "first.md").read_text() == "# First"
    if sys.platform != "win32":
        for made in (empty_home / ".local", empty_home / ".local" / "share", data):
            assert mode(made) == 0o700, made
        assert mode(empty_home / ".config" / IDENT) == 0o700
    # Only what the scope names: no $APPCACHE or $APPLOG, nothing of the person's.
    assert sorted(p.name for p in empty_home.iterdir()) == [".config", ".local"]
    assert sorted(p.name for p in (empty_home / ".local").iterdir()) == ["share"]


def test_the_first_call_makes_the_scope_s_own_directories(empty_home: Path) -> None:
    caps = {"fs": {"allow": ["write_text"], "scope": {"allow": ["$APPCACHE/**", "$HOME/x"]}}}
    with open_bridge(capabilities=caps, identifier=IDENT) as bridge:
        dirs = app_dirs(IDENT)
        assert not dirs["APPCACHE"].exists()  # loading the app (a build, a check) makes none
        bridge.call("fs.write_text", {"path": "$APPCACHE/c.bin", "contents": "c"})
        assert (dirs["APPCACHE"] / "c.bin").read_text() == "c"
    assert not dirs["APPDATA"].exists()  # not in the scope
    assert sorted(p.name for p in empty_home.iterdir()) == [".cache"]


@pytest.mark.parametrize("var", ["APPDATA", "APPCONFIG", "APPCACHE", "APPLOG"])
@pytest.mark.parametrize("pattern", ["/**", "/*", "/notes", "/notes/**"])
def test_mkdir_finds_the_app_directory_made_whatever_the_pattern(
    empty_home: Path, var: str, pattern: str
) -> None:
    """fs's mkdir makes no folder the scope does not allow, the app directory included:
    the core has made it, for each of the four and any pattern that starts with it, so
    even ``parents: false`` works on a fresh account."""
    caps = {"fs": {"allow": ["mkdir"], "scope": {"allow": [f"${var}{pattern}"]}}}
    with open_bridge(capabilities=caps, identifier=IDENT) as bridge:
        bridge.call("fs.mkdir", {"path": f"${var}/notes", "parents": False})
    own = app_dirs(IDENT)[var]
    assert (own / "notes").is_dir()
    if sys.platform != "win32":
        assert mode(own) == 0o700


@posix_only
def test_app_dirs_are_made_private_with_their_missing_parents(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "a" / "b" / IDENT
    old = os.umask(0o022)
    try:
        assert make_app_dir(target) is True
    finally:
        os.umask(old)
    for made in (tmp_path / "a", tmp_path / "a" / "b", target):
        assert mode(made) == 0o700, made
    assert make_app_dir(target) is False  # already there: left as is, no warning
    assert not caplog.records

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with caplog.at_level(logging.WARNING, logger="ramparts.dirs"):
        assert make_app_dir(shared) is False
    assert mode(shared) == 0o777  # never changed behind the person's back, but said
    assert "writable by other users" in caplog.text


@posix_only
def test_a_symlink_planted_at_the_app_dir_is_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "elsewhere" / "new"
    link = tmp_path / "data" / IDENT
    link.parent.mkdir()
    link.symlink_to(victim)  # leads nowhere yet: creating "it" would create the target
    with pytest.raises(OSError, match="symlink"):
        make_app_dir(link)
    assert not (tmp_path / "elsewhere").exists()
    assert link.is_symlink()

    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(NotADirectoryError):
        make_app_dir(afile)

    moved = tmp_path / "moved"  # a person's own link to a directory: left as it is
    moved.mkdir(mode=0o755)
    os.chmod(moved, 0o755)
    (tmp_path / "data" / "linked").symlink_to(moved)
    assert make_app_dir(tmp_path / "data" / "linked") is False
    assert mode(moved) == 0o755


def test_a_home_where_nothing_can_be_made_is_a_warning_then_the_usual_error(
    empty_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (empty_home / ".local").write_text("not a folder")  # root ignores a read-only home
    caps = {"fs": {"allow": ["mkdir"], "scope": {"allow": ["$APPDATA/**"]}}}
    with (
        caplog.at_level(logging.WARNING, logger="ramparts.scope"),
        open_bridge(capabilities=caps, identifier=IDENT) as bridge,
        pytest.raises(OutOfScope, match="outside this app's scope"),
    ):
        bridge.call("fs.mkdir", {"path": "$APPDATA/notes"})
    assert f"cannot create the app directory {app_dirs(IDENT)['APPDATA']}" in caplog.text
