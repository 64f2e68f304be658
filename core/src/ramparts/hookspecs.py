"""The hooks a plugin implements.

A plugin is a module (or any object) named by an entry point in the group
``ramparts.capabilities``; the entry point's name is the name of the capability it
provides. The core imports it only when the app's config declares that capability,
registers it with pluggy, and calls the hooks below. Implement them with
``@ramparts.hookimpl``; a capability that adds hooks of its own declares them with
``@ramparts.hookspec``. Each spec documents its parameters and what it returns, and
``docs/plugins.md`` documents each hook the same way (a test checks both).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ramparts.bridge.session import WindowSession
    from ramparts.capability import Capability

__all__ = ["hookimpl", "hookspec"]

#: The pluggy project name: hook specs and implementations are marked for it.
PROJECT = "ramparts"
#: Marks a hook spec: ``@ramparts.hookspec`` in the module a capability passes as
#: ``Capability(hookspecs=...)``.
hookspec = pluggy.HookspecMarker(PROJECT)
#: Marks a hook implementation: ``@ramparts.hookimpl`` on a plugin's hook functions.
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def ramparts_capability() -> Capability:  # type: ignore[empty-body]
    """Describe the capability this plugin provides.

    Called once per app start, right after the plugin is imported (only for apps that
    declare the capability). Required: a plugin without it is a ``PluginError``.

    :return: a :class:`ramparts.Capability` whose ``name`` equals the entry point's name.
        Its ``commands`` are the ``@command`` functions the config's ``allow`` list may
        name, and its ``configure`` parses the capability's own config keys (scopes).
    """


@hookspec
def ramparts_session_started(session: WindowSession) -> None:
    """A window's page got a new bridge session (first load or reload).

    Every registered plugin gets it, for every window, whatever the window's
    capabilities. Called on the GUI thread; do not block.

    :param session: the new session; ``session.window`` is the window label and
        ``session.grants`` holds the run-time scope grants of this session.
    :return: nothing (a value returned is ignored).
    """


@hookspec
def ramparts_session_ended(session: WindowSession) -> None:
    """A session ended: the page navigated away, reloaded, or its window closed.

    By then ``session.resources`` has released everything held there (child processes,
    dialogs, queued calls): hold a resource there when it is made, so that none is made
    after the end or missed by it. Use this hook for the plugin's own bookkeeping.
    Usually called on the GUI thread; do not block.

    :param session: the session that ended.
    :return: nothing (a value returned is ignored).
    """
