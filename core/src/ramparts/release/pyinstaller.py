"""What Ramparts knows of PyInstaller's output, shared by the build and the audit."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

__all__ = ["UNPACKED_TYPES", "onefile_bundle", "pyinstaller_missing"]

#: CArchive entries PyInstaller's onefile bootloader writes to disk when it unpacks.
UNPACKED_TYPES = frozenset("bxZnd")


def pyinstaller_missing(what: str) -> str:
    return f"{what} needs PyInstaller: pip install 'ramparts[build]' (or uv add 'ramparts[build]')"


def onefile_bundle(executable: Path) -> dict[str, Any]:
    """What the onefile bootloader will unpack, hashed from the executable's archive."""
    from PyInstaller.archive.readers import CArchiveReader

    archive = CArchiveReader(str(executable))
    bundle: dict[str, Any] = {}
    for name, entry in archive.toc.items():
        if entry[-1] not in UNPACKED_TYPES:
            continue
        data = archive.extract(name)
        if entry[-1] == "n":
            bundle[name] = {"symlink": data.rstrip(b"\0").decode()}  # stored NUL-terminated
        else:
            bundle[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    return bundle
