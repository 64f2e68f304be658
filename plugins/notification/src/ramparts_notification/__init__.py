"""The ``notification`` capability: desktop notifications through the desktop's own
notification service, the freedesktop interface ``org.freedesktop.Notifications`` on
the session D-Bus (jeepney, a pure-Python D-Bus client: no GUI toolkit is touched).

Deny by default like every capability; the config bounds the text, the rate and the
urgency. Where no service answers (no session bus, or nothing on it serves
notifications), ``send`` fails with ``failed`` and ``data.reason`` saying which.

The modules: :mod:`.config`, :mod:`.desktop` (the D-Bus client) and :mod:`.commands`.
"""

from __future__ import annotations

import ramparts
from ramparts import Capability

from .commands import COMMANDS
from .config import NotificationState, configure
from .desktop import ServerInfo, Unavailable, notify

__all__ = [
    "NotificationState",
    "ServerInfo",
    "Unavailable",
    "configure",
    "notify",
    "ramparts_capability",
]


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    return Capability(
        name="notification",
        commands=COMMANDS,
        configure=configure,
        description="desktop notifications through the desktop's notification service",
    )
