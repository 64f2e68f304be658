"""The per-OS base directories that scopes name (``$APPDATA``, ``$HOME``, ...).

Apart from the scope engine so that a built app's launcher can find ``$APPLOG`` before
it has verified anything: this module needs only the standard library and platformdirs.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path

__all__ = ["APP_DIRS", "BASE_DIRS", "base_dirs", "make_app_dir"]

log = logging.getLogger("ramparts.dirs")

#: The base-directory variables a pattern (or a requested path) may start with.
BASE_DIRS = (
    "APPDATA",
    "APPCONFIG",
    "APPCACHE",
    "APPLOG",
    "HOME",
    "DOCUMENT",
    "DOWNLOAD",
    "DESKTOP",
    "TEMP",
    "RESOURCE",
)

#: The base directories that belong to the app alone (keyed by its identifier): the
#: only ones the core creates (:func:`make_app_dir`). ``$HOME``, ``$DOCUMENT``, ... are
#: the person's, and a missing one stays missing.
APP_DIRS = ("APPDATA", "APPCONFIG", "APPCACHE", "APPLOG")


def base_dirs(identifier: str, resource_dir: Path) -> dict[str, Path]:
    """The base directories for this OS (platformdirs), keyed by variable name.

    App directories are keyed by the app's identifier, e.g. on Linux
    ``$APPDATA = ~/.local/share/<identifier>``.
    """
    import tempfile

    import platformdirs

    return {
        "APPDATA": Path(platformdirs.user_data_dir(identifier, appauthor=False)),
        "APPCONFIG": Path(platformdirs.user_config_dir(identifier, appauthor=False)),
        "APPCACHE": Path(platformdirs.user_cache_dir(identifier, appauthor=False)),
        "APPLOG": Path(platformdirs.user_log_dir(identifier, appauthor=False)),
        "HOME": Path.home(),
        "DOCUMENT": Path(platformdirs.user_documents_dir()),
        "DOWNLOAD": Path(platformdirs.user_downloads_dir()),
        "DESKTOP": Path(platformdirs.user_desktop_dir()),
        "TEMP": Path(tempfile.gettempdir()),
        "RESOURCE": resource_dir,
    }


def make_app_dir(path: Path) -> bool:
    """Create one of the app's own base directories if it is missing, private to the user.

    A fresh account has no ``~/.local``: without this, a page's first write inside
    ``$APPDATA`` would need folders above it that no scope allows. The directory and
    each missing parent are made with mode 0700 (the XDG base directory spec's mode).
    An existing directory is left as it is (a symlink to a directory too: someone put it
    there on purpose, and scopes match what paths resolve to), with a warning if others
    may write to it.

    :return: whether the directory was created.
    :raises OSError: it cannot be created (a read-only home), or something other than a
        directory is in the way: a file, or a symlink that leads nowhere, whose target
        is never created (a planted link must not choose where the app's files go).
    """
    if _existing(path):
        return False
    missing = [path]
    for parent in path.parents:
        if os.path.lexists(parent):
            break
        missing.append(parent)
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            # Made by someone else meanwhile (or a link planted there): checked as above.
            if d == path and _existing(path):
                return False
            if d == path or not os.path.isdir(d):
                raise
            continue
        _private(d)
    return True


def _existing(path: Path) -> bool:
    """Is ``path`` an existing directory to leave as it is (``OSError`` if in the way)?"""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(info.st_mode):
        if not os.path.isdir(path):
            raise OSError(errno.ELOOP, "a symlink that does not lead to a directory", str(path))
        info = os.stat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(path))
    if os.name == "posix" and info.st_mode & 0o022:
        log.warning(
            "%s is writable by other users (mode %o): they can change this app's files",
            path,
            stat.S_IMODE(info.st_mode),
        )
    return True


def _private(path: Path) -> None:
    """Mode 0700 whatever the umask, on the directory just made and never a symlink's target."""
    if not hasattr(os, "fchmod"):
        return  # Windows: the mode bits mean nothing there; the profile's ACLs apply
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)  # a symlink swapped in since the mkdir fails here
    try:
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
