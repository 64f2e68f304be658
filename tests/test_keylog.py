"""RAMPARTS_KEYLOG: a test facility that writes session keys, so it must not leak them."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import read_keylog, write_app

from ramparts.app import App

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


@pytest.fixture
def app(tmp_path: Path) -> App:
    return App.load(write_app(tmp_path / "app"))


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that would leave a new file world-readable: the mode must be explicit."""
    old = os.umask(0)
    yield
    os.umask(old)


def new_session(app: App) -> str:
    host = app.make_host(app.config.windows[0], None)  # type: ignore[arg-type]
    session = host.new_session()
    host.end()
    return session.key.hex()


@posix_only
def test_the_key_log_is_created_private(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_umask: None
) -> None:
    path = tmp_path / "keys.log"
    monkeypatch.setenv("RAMPARTS_KEYLOG", str(path))
    key = new_session(app)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [e["key"] for e in read_keylog(path)] == [key]


@posix_only
def test_an_existing_readable_key_log_is_tightened(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys.log"
    path.write_text("")
    path.chmod(0o644)
    monkeypatch.setenv("RAMPARTS_KEYLOG", str(path))
    new_session(app)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(read_keylog(path)) == 1


@posix_only
def test_a_symlinked_key_log_is_not_followed(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    elsewhere = tmp_path / "someone-elses.log"
    elsewhere.write_text("")
    link = tmp_path / "keys.log"
    link.symlink_to(elsewhere)
    monkeypatch.setenv("RAMPARTS_KEYLOG", str(link))
    new_session(app)
    assert elsewhere.read_text() == ""
    assert "RAMPARTS_KEYLOG: cannot open" in caplog.text


def test_a_built_app_ignores_the_key_log(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "keys.log"
    monkeypatch.setenv("RAMPARTS_KEYLOG", str(path))
    monkeypatch.setattr(sys, "frozen", True, raising=False)  # what PyInstaller sets
    new_session(app)
    assert not path.exists()
    assert "RAMPARTS_KEYLOG is ignored in a built app" in caplog.text
