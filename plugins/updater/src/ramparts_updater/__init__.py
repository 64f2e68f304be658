"""The ``updater`` capability: signed auto-update of a built app.

The page may ``check`` the feed the app's config names and ``install`` the newer version
it offers; Python code may do the same with :class:`Updater` and no page at all. The feed
and the new build are checked with the running build's own key (rotation links allowed),
the archive by the size and SHA-256 the feed signed; the installed app is never written,
the update goes to the user's update root (see ``docs/updates.md``).

The modules: :mod:`.config` (the table), :mod:`.commands` (the page's API) and
:mod:`.client` (the Python API: feed, download, install, relaunch). The mechanics shared
with the launcher and ``ramparts release`` live in :mod:`ramparts.release.updates`.
"""

from __future__ import annotations

import ramparts
from ramparts import Capability
from ramparts.release.updates import Feed, UpdateError

from .client import Updater, check_url
from .commands import EVENT_PROGRESS, CheckResult, InstallResult, check, install
from .config import UpdaterState, configure

__all__ = [
    "EVENT_PROGRESS",
    "CheckResult",
    "Feed",
    "InstallResult",
    "UpdateError",
    "Updater",
    "UpdaterState",
    "check",
    "check_url",
    "configure",
    "install",
    "ramparts_capability",
]


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    return Capability(
        name="updater",
        commands=[check, install],
        configure=configure,
        description="signed auto-update: check the feed, install a verified newer build",
    )
