"""One store on disk: a JSON object in ``$APPDATA/.store/<name>.json``, replaced whole.

Every change writes the whole file with :func:`ramparts.toolkit.atomic_write`, so after
a crash (``kill -9``, power loss) the file holds the store as it was before the change
or after it, never a mix. Changes from two processes of the same app are serialised
by a lock file (``flock``, POSIX only), and each one starts from the file as it is on
disk: one process's change is never lost to the other's. The parsed file is kept in
memory while its identity (inode, mtime, size) is unchanged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ramparts import CommandFailed, TooLarge
from ramparts.toolkit import atomic_write, make_app_dir

try:
    import fcntl
except ImportError:  # Windows: no lock between processes (docs/capabilities/store.md)
    fcntl = None  # type: ignore[assignment]

__all__ = ["Store", "encode"]

log = logging.getLogger("ramparts.store")
_Mark = tuple[int, int, int]
# O_NONBLOCK: a FIFO put in the store's place must not hang the open (regular files
# read the same with it).
_READ_FLAGS = os.O_RDONLY
for _flag in ("O_NOFOLLOW", "O_CLOEXEC", "O_NONBLOCK", "O_BINARY"):  # O_BINARY: Windows
    _READ_FLAGS |= getattr(os, _flag, 0)


def encode(value: Any) -> bytes:
    """``value`` as the compact UTF-8 JSON it is stored as.

    :raises ValueError: a float that JSON has no form for.
    :raises UnicodeEncodeError: text holding a lone surrogate.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8")


class Store:
    """One named store. Thread-safe; every method may raise ``CommandFailed``."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder
        self.path = folder / f"{name}.json"
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {}
        self._mark: _Mark | None = None  # the file _data was read from; None: no file

    def read(self) -> dict[str, Any]:
        """The store's contents (do not change the mapping returned)."""
        with self._lock:
            return self._load()

    def update(self, change: Callable[[dict[str, Any]], bool], max_bytes: int | None) -> bool:
        """Apply ``change`` to a copy of the contents and, if it says it changed
        anything, write the copy. Nothing is written, and the store is unchanged, when
        ``change`` raises or the new contents would exceed ``max_bytes``.

        :return: whether the store changed.
        """
        with self._lock, self._locked_file():
            data = dict(self._load())
            if not change(data):
                return False
            encoded = encode(data)
            if max_bytes is not None and len(encoded) > max_bytes:
                raise TooLarge(
                    f"store {self.name!r} would hold {len(encoded)} bytes;"
                    f" this app's stores hold at most {max_bytes}"
                )
            try:
                atomic_write(self.path, encoded, mode=0o600)
            except OSError as e:
                raise self._failed("cannot be written", e) from None
            try:
                self._data, self._mark = data, _mark(os.stat(self.path))
            except OSError:
                self._mark = None  # written: read back on the next use
            return True

    def _load(self) -> dict[str, Any]:
        try:
            fd = os.open(self.path, _READ_FLAGS)
        except FileNotFoundError:
            self._data, self._mark = {}, None
            return self._data
        except OSError as e:
            raise self._failed("cannot be read", e) from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise self._failed("cannot be read", "not a regular file")
            mark = _mark(info)
            if mark == self._mark:
                return self._data
            raw = b"".join(iter(lambda: os.read(fd, 1 << 20), b""))
        except OSError as e:
            raise self._failed("cannot be read", e) from None
        finally:
            os.close(fd)
        try:
            data = json.loads(raw.decode("utf-8"))
        except ValueError:  # UnicodeDecodeError included
            raise self._failed("cannot be read", "not valid JSON") from None
        if not isinstance(data, dict):
            raise self._failed("cannot be read", "not a JSON object")
        self._data, self._mark = data, mark
        return data

    def _failed(self, what: str, why: OSError | str) -> CommandFailed:
        """The page's error: it names the file as ``$APPDATA/...``, not the person's home
        folder. A file that cannot be read is left as it is: nothing is written over it."""
        if isinstance(why, OSError):
            log.warning("store %r: %s: %s", self.name, self.path, why)
            # NotARegularFile has no errno, and its text holds the full path.
            why = os.strerror(why.errno) if why.errno else "not a regular file"
        shown = f"$APPDATA/{self.folder.name}/{self.path.name}"
        return CommandFailed(
            f"store {self.name!r} {what} ({shown}: {why})",
            data={"reason": "unreadable" if what == "cannot be read" else "unwritable"},
        )

    @contextlib.contextmanager
    def _locked_file(self) -> Iterator[None]:
        """Hold the store's lock file (made with its folder on the first change)."""
        try:
            make_app_dir(self.folder.parent)
            with contextlib.suppress(FileExistsError):
                os.mkdir(self.folder, 0o700)
            fd = os.open(self.folder / f"{self.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise self._failed("cannot be written", e) from None
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the flock


def _mark(st: os.stat_result) -> _Mark:
    return (st.st_ino, st.st_mtime_ns, st.st_size)
