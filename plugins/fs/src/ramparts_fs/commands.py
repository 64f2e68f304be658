"""The fs commands: read, write, list, stat, create, remove, move and copy in scope.

Each resolves its paths through the app's :class:`~ramparts.toolkit.PathScope` and the
session's grants, and then acts on the checked name only: through a descriptor proven to
be the checked file (:func:`~ramparts.toolkit.open_checked`), or relative to a checked
parent directory, so a path swapped for a symlink after the check is not followed.
"""

from __future__ import annotations

import os
import shutil
import stat as st
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypedDict

from ramparts import CallContext, InvalidArgs, OutOfScope, TooLarge, command
from ramparts.toolkit import (
    NotARegularFile,
    PathScope,
    atomic_write,
    encode_text,
    open_checked,
    open_dir_checked,
    os_error,
    text_codec,
)

from .config import FsState

__all__ = ["COMMANDS", "Entry"]

_CHUNK = 1024 * 1024


def _resolve(
    ctx: CallContext, path: str, *, where: str = "path", follow_final: bool = True
) -> Path:
    state: FsState = ctx.state
    return state.scope.resolve(path, ctx.session.grants, where=where, follow_final=follow_final)


def _read_all(ctx: CallContext, canonical: Path) -> bytes:
    limit = ctx.state.max_read_bytes
    fd = open_checked(canonical, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise TooLarge(f"{canonical} is {size} bytes; this app reads at most {limit}")
        # Read to EOF (sizes of procfs-like files lie) but never past the limit. Asking for
        # one byte more than the size usually gets the whole file in one read, returned
        # as it came: growing a bytearray and converting it copied a large file twice more.
        chunks: list[bytes] = []
        total = 0
        while True:
            want = min(max(size + 1 - total, _CHUNK), limit + 1 - total)
            chunk = os.read(fd, want or 1)
            if not chunk:
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise TooLarge(f"{canonical} is larger than {limit} bytes")
    finally:
        os.close(fd)


def _check_tree(ctx: CallContext, root: Path, path: str, moved_to: Path | None = None) -> None:
    """Refuse to remove or move a directory that holds anything outside the scope.

    Every entry under ``root`` must be in scope (and not denied); when the tree is moved,
    its new name under ``moved_to`` must be in scope too.
    """
    scope: PathScope = ctx.state.scope
    grants = ctx.session.grants

    def fail(e: OSError) -> None:
        raise os_error(e, e.filename or root)

    for parent, dirs, files in os.walk(root, onerror=fail):
        for name in dirs + files:
            child = os.path.join(parent, name)
            if not scope.allows(child, grants):
                raise OutOfScope(f"{path} holds {child}, which is outside this app's scope")
            if moved_to is not None:
                dest = os.path.join(moved_to, os.path.relpath(child, root))
                if not scope.allows(dest, grants):
                    raise OutOfScope(f"moving {path} would put {dest} outside this app's scope")


def _atomic_write(canonical: Path, chunks: Iterable[bytes]) -> None:
    """Write all of ``chunks`` to ``canonical`` or leave the old file untouched."""
    dfd = open_dir_checked(canonical.parent)  # the checked directory, not a swapped one
    try:
        atomic_write(canonical, chunks, dir_fd=dfd)
    except NotARegularFile:
        raise InvalidArgs(f"{canonical} exists and is not a regular file") from None
    except OSError as e:
        raise os_error(e, canonical) from None
    finally:
        os.close(dfd)


def _file_chunks(fd: int) -> Iterator[bytes]:
    while chunk := os.read(fd, _CHUNK):
        yield chunk


class Entry(TypedDict):
    name: str
    kind: str
    size: int


def _kind(mode: int) -> str:
    if st.S_ISDIR(mode):
        return "dir"
    if st.S_ISREG(mode):
        return "file"
    if st.S_ISLNK(mode):
        return "symlink"
    return "other"


@command
def read_text(ctx: CallContext, path: str, encoding: str = "utf-8") -> str:
    """Read a whole text file."""
    data = _read_all(ctx, _resolve(ctx, path))
    try:
        return data.decode(text_codec(encoding))
    except UnicodeDecodeError as e:
        raise InvalidArgs(f"{path} is not valid {encoding} text (byte {e.start})") from None


@command
def read_bytes(ctx: CallContext, path: str) -> bytes:
    """Read a whole file as raw bytes (a ``Uint8Array`` in JS)."""
    return _read_all(ctx, _resolve(ctx, path))


@command
def write_text(ctx: CallContext, path: str, contents: str, encoding: str = "utf-8") -> None:
    """Replace a file's contents atomically (create it if missing)."""
    data = encode_text(contents, encoding)
    _atomic_write(_resolve(ctx, path), [data])


@command
def write_bytes(ctx: CallContext, path: str, data: bytes) -> None:
    """Replace a file's contents with raw bytes, atomically."""
    _atomic_write(_resolve(ctx, path), [data])


@command
def append_text(ctx: CallContext, path: str, contents: str, encoding: str = "utf-8") -> None:
    """Append to a text file (created if missing). One ``O_APPEND`` write, then fsync."""
    data = encode_text(contents, encoding)
    canonical = _resolve(ctx, path)
    fd = open_checked(canonical, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


@command
def list_dir(ctx: CallContext, path: str) -> list[Entry]:
    """The entries of a directory that are themselves in scope, sorted by name."""
    canonical = _resolve(ctx, path)
    scope: PathScope = ctx.state.scope
    dfd = open_dir_checked(canonical)
    entries: list[Entry] = []
    try:
        with os.scandir(dfd) as it:
            for e in it:
                child = os.path.join(canonical, e.name)
                if not scope.allows(child, ctx.session.grants):
                    continue
                info = e.stat(follow_symlinks=False)
                entries.append({"name": e.name, "kind": _kind(info.st_mode), "size": info.st_size})
    except OSError as e:
        raise os_error(e, canonical) from None
    finally:
        os.close(dfd)
    return sorted(entries, key=lambda x: x["name"])


@command
def stat(ctx: CallContext, path: str) -> dict[str, Any]:
    """Size, kind, permissions and modification time (seconds since the epoch)."""
    canonical = _resolve(ctx, path)
    try:
        info = os.stat(canonical, follow_symlinks=False)
    except OSError as e:
        raise os_error(e, canonical) from None
    return {
        "size": info.st_size,
        "kind": _kind(info.st_mode),
        "mode": st.S_IMODE(info.st_mode),
        "modified": info.st_mtime,
        "readonly": not os.access(canonical, os.W_OK, follow_symlinks=False),
    }


@command
def exists(ctx: CallContext, path: str) -> bool:
    """Whether the path exists. Out-of-scope paths are an error, not ``false``."""
    return os.path.lexists(_resolve(ctx, path))


@command
def mkdir(ctx: CallContext, path: str, parents: bool = True) -> None:
    """Create a directory, and its missing parents that are in scope.

    The app's own directories (``$APPDATA``, ...) above them exist already: the scope
    made those its patterns name when it resolved ``path``.
    """
    canonical = _resolve(ctx, path)
    scope: PathScope = ctx.state.scope
    missing = []
    current = canonical
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    if len(missing) > 1 and not parents:
        raise InvalidArgs(f"{missing[-1]} does not exist; pass parents: true to create it")
    for d in reversed(missing):
        if d != canonical and not scope.allows(str(d), ctx.session.grants):
            raise OutOfScope(f"creating {path} would create {d}, which is outside this app's scope")
        try:
            os.mkdir(d)
        except FileExistsError:
            pass
        except OSError as e:
            raise os_error(e, d) from None
    if not canonical.is_dir():
        raise InvalidArgs(f"{path} exists and is not a directory")


@command
def remove(ctx: CallContext, path: str, recursive: bool = False) -> None:
    """Remove a file or symlink; a directory only with ``recursive: true``."""
    target = _resolve(ctx, path, follow_final=False)
    # Work relative to the checked parent: a parent swapped for a symlink is caught.
    dfd = open_dir_checked(target.parent)
    try:
        info = os.stat(target.name, dir_fd=dfd, follow_symlinks=False)
        if not st.S_ISDIR(info.st_mode):
            os.unlink(target.name, dir_fd=dfd)
            return
        if not recursive:
            raise InvalidArgs(f"{path} is a directory; pass recursive: true to remove it")
        _check_tree(ctx, target, path)
        shutil.rmtree(target.name, dir_fd=dfd)  # fd-based: does not follow symlinks out
    except OSError as e:
        raise os_error(e, target) from None
    finally:
        os.close(dfd)


@command
def rename(ctx: CallContext, src: str, dst: str) -> None:
    """Move a file or directory (replacing a file at ``dst``)."""
    a = _resolve(ctx, src, where="src", follow_final=False)
    b = _resolve(ctx, dst, where="dst", follow_final=False)
    if os.path.isdir(a) and not os.path.islink(a):
        _check_tree(ctx, a, src, moved_to=b)
    # Rename between the checked parents: a parent swapped for a symlink is caught.
    sfd = open_dir_checked(a.parent)
    try:
        dfd = open_dir_checked(b.parent)
        try:
            os.replace(a.name, b.name, src_dir_fd=sfd, dst_dir_fd=dfd)
        finally:
            os.close(dfd)
    except OSError as e:
        raise os_error(e, a) from None
    finally:
        os.close(sfd)


@command
def copy(ctx: CallContext, src: str, dst: str) -> None:
    """Copy a file's contents to ``dst`` (atomically replaced or created)."""
    a = _resolve(ctx, src, where="src")
    b = _resolve(ctx, dst, where="dst")
    fd = open_checked(a, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size > ctx.state.max_read_bytes:
            limit = ctx.state.max_read_bytes
            raise TooLarge(f"{src} is {size} bytes; this app copies at most {limit}")
        _atomic_write(b, _file_chunks(fd))
    finally:
        os.close(fd)


COMMANDS: list[Callable[..., Any]] = [
    read_text,
    read_bytes,
    write_text,
    write_bytes,
    append_text,
    list_dir,
    stat,
    exists,
    mkdir,
    remove,
    rename,
    copy,
]
