"""Atomic file replacement: a reader sees the old file or the new one, never a mix.

Public API for plugin authors (the ``fs`` capability writes through it) and used by the
core for manifests, keys and config edits. Only the standard library: a built app's
launcher imports it before anything is verified.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

__all__ = ["NotARegularFile", "atomic_write"]

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL
for _name in ("O_NOFOLLOW", "O_CLOEXEC", "O_BINARY"):  # O_BINARY: no newline mangling on Windows
    _FLAGS |= getattr(os, _name, 0)


class NotARegularFile(OSError):
    """The target exists and is a directory, a symlink, a FIFO or a device: it is left alone."""


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | Iterable[bytes],
    *,
    mode: int | None = None,
    dir_fd: int | None = None,
) -> None:
    """Replace ``path`` with ``data`` (bytes, or an iterable of byte chunks), atomically.

    The data goes to a temporary file in the same directory, which is fsynced and then
    renamed over ``path``; the directory is fsynced too, so the rename survives a crash.
    On any error (an exception from ``data`` included) the temporary file is removed and
    the old file is untouched.

    :param mode: the new file's permissions, e.g. ``0o600`` for a key. Default: a
        replaced file keeps its permissions; a new one gets ``0o666`` less the umask.
        The temporary file is never readable by more people than the final one.
    :param dir_fd: an open descriptor of ``path``'s directory; ``path``'s name is then
        used relative to it (``*at`` calls), so a directory swapped for a symlink after
        the caller checked it is not followed.
    :raises NotARegularFile: ``path`` exists and is not a regular file.
    :raises OSError: the directory does not exist, is not writable, the disk is full...
    """
    path = Path(path)
    target = path.name if dir_fd is not None else str(path)
    try:
        old = os.stat(target, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        old = None
    if old is not None and not stat.S_ISREG(old.st_mode):
        raise NotARegularFile(f"{path} exists and is not a regular file")
    final = mode if mode is not None else (stat.S_IMODE(old.st_mode) if old else None)
    tmp_name = f".ramparts-{secrets.token_hex(8)}.tmp"
    tmp = tmp_name if dir_fd is not None else str(path.with_name(tmp_name))
    # Owner-only until the final permissions are set, when those are known.
    fd = os.open(tmp, _FLAGS, 0o666 if final is None else final & 0o600, dir_fd=dir_fd)
    try:
        try:
            for chunk in [data] if isinstance(data, bytes | bytearray | memoryview) else data:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
            if final is not None and hasattr(os, "fchmod"):  # Windows: ACLs, no modes
                os.fchmod(fd, final)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    _fsync_dir(path.parent, dir_fd)


def _fsync_dir(folder: Path, dir_fd: int | None) -> None:
    """Make the rename itself durable (POSIX; Windows cannot open a directory)."""
    if dir_fd is not None:
        os.fsync(dir_fd)
    elif os.name == "posix":
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
