"""Deadlines for commands, and the warning when the async commands' loop stalls.

One :class:`Watchdog` thread answers every command's timeout on time, even when the
command blocks its thread or the event loop; :class:`LoopMonitor` uses it to notice a
loop that runs nothing while async commands are in flight.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import logging
import threading
import time
from collections.abc import Callable

__all__ = ["LoopMonitor", "Watchdog"]

log = logging.getLogger("ramparts.bridge")


class Watchdog:
    """One thread that runs callbacks after deadlines (cheaper than a timer per call).

    Cancelled entries leave only a small (deadline, id) pair in the heap, and the heap is
    rebuilt when those outnumber the live entries, so memory follows calls in flight.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int]] = []
        self._live: dict[int, Callable[[], None]] = {}
        self._cv = threading.Condition()
        self._seq = 0
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="ramparts-watchdog", daemon=True)
        self._thread.start()

    def after(self, seconds: float, fn: Callable[[], None]) -> int:
        with self._cv:
            self._seq += 1
            self._live[self._seq] = fn
            deadline = time.monotonic() + seconds
            earliest = not self._heap or deadline < self._heap[0][0]
            heapq.heappush(self._heap, (deadline, self._seq))
            if earliest:  # only then must the sleeping thread wake up earlier
                self._cv.notify()
            return self._seq

    def cancel(self, token: int) -> None:
        with self._cv:
            self._live.pop(token, None)
            if len(self._heap) > 64 and len(self._heap) > 2 * len(self._live):
                self._heap = [e for e in self._heap if e[1] in self._live]
                heapq.heapify(self._heap)

    def __len__(self) -> int:
        return len(self._live)

    def stop(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cv.wait(wait)
                if self._stopped:
                    return
                _, token = heapq.heappop(self._heap)
                fn = self._live.pop(token, None)
            if fn is not None:
                try:
                    fn()
                except Exception:
                    log.exception("watchdog callback failed")


class LoopMonitor:
    """Warns when the event loop of async commands stops running while commands are on it.

    While at least one ``async def`` command is in flight, the watchdog thread posts a
    probe (a no-op) to the loop every ``interval`` seconds. A probe still not run at the
    next check means the loop has run nothing for at least ``interval`` s: code on it
    blocks (``time.sleep``, blocking I/O or long CPU work in an ``async def``). The
    warning names the async commands in flight then; one of them, or a task it started,
    is blocking. Python cannot interrupt it: every async command waits until it returns,
    and only timeouts (answered on the watchdog thread) still reach the pages on time.
    One warning per stall, and only the 1st, 2nd, 4th, 8th... stall is logged, so a page
    that keeps calling such a command cannot flood the log.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, watchdog: Watchdog, interval: float
    ) -> None:
        self._loop = loop
        self._watchdog = watchdog
        self._interval = interval
        self._lock = threading.Lock()
        self._running: collections.Counter[str] = collections.Counter()
        self._chain: object | None = None  # the live series of checks, while any run
        self._token = 0  # its next check's watchdog token
        self._probe = threading.Event()
        self._probe_sent = 0.0
        self._reported = False
        self.stalls = 0

    def started(self, name: str) -> None:
        with self._lock:
            self._running[name] += 1
            if self._chain is None:
                self._chain = object()
                self._probe.set()  # the first check sends a new probe
                self._schedule(0)

    def ended(self, name: str) -> None:
        with self._lock:
            self._running[name] -= 1
            if not self._running[name]:
                del self._running[name]
            if not self._running:  # nothing to watch: no entry left in the watchdog
                self._watchdog.cancel(self._token)
                self._chain = None

    def _schedule(self, delay: float) -> None:
        chain = self._chain
        self._token = self._watchdog.after(delay, lambda: self._check(chain))

    def _check(self, chain: object) -> None:
        """On the watchdog thread."""
        with self._lock:
            if chain is not self._chain:
                return  # the commands it watched have ended since it was scheduled
            stalled = None
            if self._probe.is_set():
                self._probe = threading.Event()
                self._probe_sent = time.monotonic()
                self._reported = False
                self._loop.call_soon_threadsafe(self._probe.set)
            elif not self._reported:  # once per stall
                self._reported = True
                self.stalls += 1
                if self.stalls & (self.stalls - 1) == 0:  # the 1st, 2nd, 4th, 8th...
                    waited = time.monotonic() - self._probe_sent
                    stalled = waited, _names(self._running), self.stalls
            self._schedule(self._interval)
        if stalled is not None:
            log.warning(
                "bridge: the event loop of async commands has run nothing for %.3g s: code"
                " on it blocks (time.sleep, blocking I/O or long CPU work in an async def?)."
                " Async commands in flight: %s. Python cannot interrupt it; all async"
                " commands wait until it returns (%d stalls so far)",
                *stalled,
            )


def _names(counts: collections.Counter[str], most: int = 10) -> str:
    """``a, b (3 calls), c`` for the log, at most ``most`` names."""
    shown = [k if n == 1 else f"{k} ({n} calls)" for k, n in counts.most_common(most)]
    if len(counts) > most:
        shown.append(f"and {len(counts) - most} more")
    return ", ".join(shown)
