"""The ``fs`` capability: file access inside the app's declared scope.

Every path goes through the core's :class:`ramparts.toolkit.PathScope` (deny wins,
canonical paths, no ``..``) plus the session's run-time grants; every open proves the
descriptor is the checked file. Writes are atomic: a temporary file in the same
directory, flushed and fsynced, then renamed over the target (its permissions kept).

The modules: :mod:`.config` (the scope and limits) and :mod:`.commands` (the commands).
"""

from __future__ import annotations

import ramparts
from ramparts import Capability

from .commands import COMMANDS
from .config import FsState, configure

__all__ = ["FsState", "configure", "ramparts_capability"]


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    return Capability(
        name="fs",
        commands=COMMANDS,
        configure=configure,
        description="files inside the declared scope; atomic writes",
    )
