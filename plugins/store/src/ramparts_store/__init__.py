"""The ``store`` capability: named, persistent key-value stores of JSON values.

An app names its stores in config; each is one JSON file under ``$APPDATA/.store/``,
replaced atomically on every change (:mod:`.files`), within the configured size limits
(:mod:`.config`). Every change is announced to the pages granted ``store``
(:mod:`.commands`): this module tracks them with the session hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ramparts
from ramparts import Capability

from .commands import COMMANDS, EVENT
from .config import StoreState, configure

if TYPE_CHECKING:
    from ramparts import WindowSession

__all__ = [
    "EVENT",
    "StoreState",
    "configure",
    "ramparts_capability",
    "ramparts_session_ended",
    "ramparts_session_started",
]


def _state_of(session: WindowSession) -> StoreState | None:
    """This app's store state, if the session's window was granted ``store``."""
    for route in session.registry.routes.values():
        if route.capability == "store" and isinstance(route.state, StoreState):
            return route.state
    return None


@ramparts.hookimpl
def ramparts_session_started(session: WindowSession) -> None:
    state = _state_of(session)
    if state is not None:
        state.sessions.add(session)


@ramparts.hookimpl
def ramparts_session_ended(session: WindowSession) -> None:
    state = _state_of(session)
    if state is not None:
        state.sessions.discard(session)


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    return Capability(
        name="store",
        commands=COMMANDS,
        configure=configure,
        description="named persistent key-value stores of JSON values; atomic writes",
    )
