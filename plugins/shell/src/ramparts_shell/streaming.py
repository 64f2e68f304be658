"""A spawned child's output, streamed to the page that spawned it as events, line by line.

The stream is paced (:class:`EventRate`) and capped (``spawn_max_output``,
``spawn_timeout``); when it ends the child is reaped and its exit sent.
"""

from __future__ import annotations

import codecs
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from ramparts import WindowSession

from .children import CHILDREN, Child
from .process import exit_status, pump

__all__ = ["EVENT_EXIT", "EVENT_STDERR", "EVENT_STDOUT", "MAX_LINE", "EventRate", "watch"]

log = logging.getLogger("ramparts.shell")

#: Events a spawned child sends to the page that spawned it. Listen before spawning:
#: lines can arrive before ``spawn`` answers with the child's id.
EVENT_STDOUT = "shell:stdout"
EVENT_STDERR = "shell:stderr"
EVENT_EXIT = "shell:exit"
#: A line longer than this many characters reaches the page in pieces.
MAX_LINE = 64 * 1024


class EventRate:
    """At most ``per_second`` events a second on average (bursts of that many).

    :meth:`take` sleeps when the budget is spent: the watcher then stops reading, the
    child's pipe fills and the child blocks, so nothing is dropped and the page is not
    flooded.
    """

    def __init__(
        self,
        per_second: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rate = float(per_second)
        self._clock, self._sleep = clock, sleep
        self._tokens = self._rate
        self._last = clock()

    def take(self) -> None:
        now = self._clock()
        self._tokens = min(self._rate, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return
        wait = (1 - self._tokens) / self._rate
        self._sleep(wait)
        self._tokens = 0.0
        self._last = now + wait


class _OutputCap(Exception):
    """A spawned child wrote more than its ``spawn_max_output``."""


def watch(session: WindowSession, child: Child) -> None:
    """Stream a spawned child's lines to its page, then reap it and send its exit.

    The child is killed past ``spawn_timeout`` or ``spawn_max_output``; the exit event's
    ``reason`` (``"timeout"``, ``"too_large"``, else ``None``) says so.
    """
    program = child.program
    names = {1: EVENT_STDOUT, 2: EVENT_STDERR}
    decoders = {s: codecs.getincrementaldecoder(child.encoding)("replace") for s in names}
    rest = {1: "", 2: ""}
    rate = EventRate(program.spawn_max_events)
    written = 0
    reason: str | None = None

    def emit(event: str, payload: dict[str, Any]) -> None:
        try:
            session.emit(event, payload)
        except Exception:
            log.exception("shell: could not send %s", event)

    def on_output(stream: int, chunk: bytes) -> None:
        nonlocal written
        written += len(chunk)
        if written > program.spawn_max_output:
            raise _OutputCap
        text = rest[stream] + decoders[stream].decode(chunk, final=not chunk)
        *lines, tail = text.split("\n")
        if not chunk and tail:  # EOF: the last line had no newline
            lines.append(tail)
            tail = ""
        while len(tail) > MAX_LINE:
            lines.append(tail[:MAX_LINE])
            tail = tail[MAX_LINE:]
        rest[stream] = tail
        for line in lines:
            line = line.removesuffix("\r")
            for start in range(0, max(len(line), 1), MAX_LINE):
                rate.take()
                emit(names[stream], {"child": child.id, "line": line[start : start + MAX_LINE]})

    limit = program.spawn_timeout
    deadline = None if math.isinf(limit) else time.monotonic() + limit
    try:
        if not pump(child.proc, on_output, deadline=deadline):
            reason = "timeout"
    except _OutputCap:
        reason = "too_large"
    except Exception:
        log.exception("shell: watching %s failed", program.name)
    finally:
        code, sig = exit_status(child.proc.reap())
        child.held.drop()
        CHILDREN.remove(session, child.id)
        emit(EVENT_EXIT, {"child": child.id, "code": code, "signal": sig, "reason": reason})
