"""The ``shell`` capability: run programs the app declared, with arguments it allows.

The page never names an executable: it names a program declared in the config, whose
absolute path was fixed when the app loaded. Arguments are checked position by position
(fixed strings or whole-string validators) and passed as an argument list, never
through a shell. Children get a cleared environment, a working directory from a path
scope, ``/dev/null`` as stdin unless given, a time limit and an output cap; they are
killed with their whole process group, always reaped, and never outlive the page's
session (each is held in ``session.resources``, so none starts after the session ended
and none is missed by its end). ``open`` hands an allowed URL (or non-executable file)
to the desktop.

The modules: :mod:`.config` (the declared programs and limits), :mod:`.commands`
(``execute``, ``spawn``, ``write``, ``kill``), :mod:`.opening` (``open``),
:mod:`.children` (each session's spawned children), :mod:`.streaming` (their output as
events) and :mod:`.process` (starting, killing and reaping one child).

Docs: ``docs/capabilities/shell.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ramparts
from ramparts import Capability, WindowSession

from .children import CHILDREN
from .commands import ExecOutput, execute, kill, spawn, write
from .config import DangerousConfigWarning, ShellState, configure
from .opening import open_
from .streaming import EVENT_EXIT, EVENT_STDERR, EVENT_STDOUT, EventRate

__all__ = [
    "EVENT_EXIT",
    "EVENT_STDERR",
    "EVENT_STDOUT",
    "DangerousConfigWarning",
    "EventRate",
    "ExecOutput",
    "ShellState",
    "configure",
    "ramparts_capability",
    "ramparts_session_ended",
]

COMMANDS: list[Callable[..., Any]] = [execute, spawn, write, kill, open_]


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    return Capability(
        name="shell",
        commands=COMMANDS,
        configure=configure,
        description="declared programs with checked arguments; open https URLs",
    )


@ramparts.hookimpl
def ramparts_session_ended(session: WindowSession) -> None:
    """Forget the session's child ids. Its children were terminated when it ended
    (``session.resources``); their watcher threads reap them. Never blocks."""
    CHILDREN.end(session)
