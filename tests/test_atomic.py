"""``ramparts.toolkit.atomic.atomic_write``: the one atomic write of the core and its plugins.

The crash tests (SIGKILL at each step of a write) run it through the fs capability in
``tests/test_fs.py``; these check its own contract.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ramparts.toolkit.atomic import NotARegularFile, atomic_write


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_new_file_gets_the_umask_default_and_no_temp_file_is_left(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a", b"one")
    finally:
        os.umask(umask)
    assert (tmp_path / "a").read_bytes() == b"one"
    assert mode_of(tmp_path / "a") == 0o644
    atomic_write(tmp_path / "a", [b"t", bytearray(b"w"), memoryview(b"o")])
    assert (tmp_path / "a").read_bytes() == b"two"
    assert names(tmp_path) == ["a"]


@pytest.mark.parametrize("old_mode", [0o600, 0o640, 0o755, 0o400])
def test_a_replaced_file_keeps_its_permissions(tmp_path: Path, old_mode: int) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    target.chmod(old_mode)
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new" and mode_of(target) == old_mode


def test_mode_is_exact_for_new_and_replaced_files(tmp_path: Path) -> None:
    key = tmp_path / "key"
    atomic_write(key, b"secret", mode=0o600)
    assert mode_of(key) == 0o600
    key.chmod(0o644)  # an old key left readable: replacing it makes it private again
    atomic_write(key, b"secret 2", mode=0o600)
    assert mode_of(key) == 0o600 and key.read_bytes() == b"secret 2"


def test_the_temp_file_is_never_readable_by_more_people_than_the_result(tmp_path: Path) -> None:
    target = tmp_path / "private"
    target.write_bytes(b"old")
    target.chmod(0o600)
    seen: list[int] = []

    def chunks() -> Iterator[bytes]:
        yield b"new secret "
        (temp,) = (p for p in tmp_path.iterdir() if p.name != "private")
        seen.append(mode_of(temp))
        yield b"more"

    atomic_write(target, chunks())
    assert seen and seen[0] & 0o077 == 0
    assert target.read_bytes() == b"new secret more" and mode_of(target) == 0o600


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_old_file_and_no_debris(
    tmp_path: Path, error: BaseException
) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")

    def chunks() -> Iterator[bytes]:
        yield b"half"
        raise error

    with pytest.raises(type(error)):
        atomic_write(target, chunks())
    assert target.read_bytes() == b"old" and names(tmp_path) == ["f"]


def test_a_directory_or_symlink_is_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "real").write_bytes(b"real")
    (tmp_path / "link").symlink_to("real")
    for name in ("dir", "link"):
        with pytest.raises(NotARegularFile, match="exists and is not a regular file"):
            atomic_write(tmp_path / name, b"x")
    assert (tmp_path / "link").is_symlink() and (tmp_path / "real").read_bytes() == b"real"
    assert names(tmp_path) == ["dir", "link", "real"]


def test_relative_to_a_directory_descriptor(tmp_path: Path) -> None:
    """With ``dir_fd`` the directory opened is the one written, even if its path moves."""
    folder = tmp_path / "checked"
    folder.mkdir()
    dfd = os.open(folder, os.O_RDONLY)
    try:
        folder.rename(tmp_path / "moved")
        folder.mkdir()  # a different directory now has the checked path
        atomic_write(folder / "f", b"data", dir_fd=dfd)
    finally:
        os.close(dfd)
    assert (tmp_path / "moved" / "f").read_bytes() == b"data"
    assert names(folder) == []


def test_a_missing_directory_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "nope" / "f", b"x")
