"""The ``log`` capability: the page's log lines in the app's log file.

Lines go to ``$APPLOG/app.log`` with a level (a minimum in the config), one record a
line whatever the page sent (newlines and control characters escaped), rotated by size,
and rate-limited so that a page cannot fill the disk or push the app's own lines out of
the rotation; the lines dropped are counted and reported once the flood ends. Python
writes to the same file through the ``app`` logger (:data:`LOGGER`).

The modules: :mod:`.config` (levels, rotation, rate), :mod:`.file` (the file and its
line format), :mod:`.flood` (dropped lines) and :mod:`.commands`.
"""

from __future__ import annotations

import ramparts
from ramparts import Capability

from .commands import COMMANDS
from .config import FILE_NAME, LEVELS, LogState, configure
from .file import LOGGER, AppLogFile

__all__ = [
    "FILE_NAME",
    "LEVELS",
    "LOGGER",
    "AppLogFile",
    "LogState",
    "configure",
    "ramparts_capability",
]


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    return Capability(
        name="log",
        commands=COMMANDS,
        configure=configure,
        description="the page's log lines in the app's log file; levels, rotation, rate limit",
    )
