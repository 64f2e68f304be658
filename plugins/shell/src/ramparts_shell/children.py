"""The spawned children of each page's session, and how one is started for a session.

A child is known to its page only by a random id, which never resolves in another
session or window. Each is held in ``session.resources`` from its start, so none starts
after the session ended and none is missed by its end (which terminates it).
"""

from __future__ import annotations

import threading

import attrs

from ramparts import Held, NotAllowed, SessionEnded, TooLarge, WindowSession

from .config import Program
from .process import Proc

__all__ = ["CHILDREN", "Child", "start_held"]


@attrs.define(eq=False)
class Child:
    """A spawned program, known to the page only by a random id."""

    id: str
    proc: Proc
    encoding: str
    program: Program
    held: Held  # in its session's resources until reaped


@attrs.define
class _Owned:
    live: dict[str, Child] = attrs.field(factory=dict)
    starting: int = 0


class _Children:
    """Spawned children by session: ids never resolve in another session or window."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[WindowSession, _Owned] = {}

    def reserve(self, session: WindowSession, limit: int) -> None:
        """Hold a slot before starting, so concurrent spawns cannot pass ``limit``."""
        with self._lock:
            if session.closed:
                raise NotAllowed("this page's session has ended")
            owned = self._sessions.setdefault(session, _Owned())
            if len(owned.live) + owned.starting >= limit:
                raise TooLarge(f"at most {limit} spawned programs may run at once per window")
            owned.starting += 1

    def release(self, session: WindowSession) -> None:
        with self._lock:
            owned = self._sessions.get(session)
            if owned is not None:
                owned.starting -= 1

    def commit(self, session: WindowSession, child: Child) -> bool:
        """Record a started child; ``False`` if its session ended meanwhile (kill it)."""
        with self._lock:
            owned = self._sessions.get(session)
            if owned is None:
                return False
            owned.starting -= 1
            if session.closed:
                return False
            owned.live[child.id] = child
            return True

    def get(self, session: WindowSession, child_id: str) -> Child:
        with self._lock:
            owned = self._sessions.get(session)
            child = owned.live.get(child_id) if owned is not None else None
        if child is None:
            raise NotAllowed("no such child here (unknown id, finished, or another window's)")
        return child

    def remove(self, session: WindowSession, child_id: str) -> None:
        with self._lock:
            owned = self._sessions.get(session)
            if owned is not None:
                owned.live.pop(child_id, None)
                if not owned.live and not owned.starting:
                    del self._sessions[session]

    def end(self, session: WindowSession) -> list[Child]:
        """Forget every child of ``session`` and return them (to be killed)."""
        with self._lock:
            owned = self._sessions.pop(session, None)
        return list(owned.live.values()) if owned is not None else []

    def running(self, session: WindowSession | None = None) -> list[Child]:
        """Live children of ``session`` (or of every session)."""
        with self._lock:
            if session is None:
                groups = list(self._sessions.values())
            else:
                groups = [self._sessions[session]] if session in self._sessions else []
            return [c for owned in groups for c in owned.live.values()]


CHILDREN = _Children()


def start_held(
    session: WindowSession, program: Program, argv: list[str], cwd: str, *, pipe_stdin: bool
) -> tuple[Proc, Held]:
    """Start a child held by ``session``: terminated when the session ends.

    The start happens inside ``session.resources.opening()``, which the session's end
    waits for: a child is never started for an ended session, nor missed by its end.
    """
    with session.resources.opening():
        proc = Proc.start(argv, program.environment(), cwd, pipe_stdin=pipe_stdin)
        try:
            held = session.resources.hold(proc.terminate)
        except SessionEnded:  # the end gave up waiting: terminated by hold; reap it
            proc.reap()
            raise
    return proc, held
