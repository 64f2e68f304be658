"""Counting the page lines the rate limit dropped, and saying so once the flood ends."""

from __future__ import annotations

import atexit
import logging
import threading
from collections import Counter

from ramparts.toolkit import RateLimit

from .file import LOGGER, AppLogFile

__all__ = ["QUIET_SECONDS", "Flood"]

#: A flood has ended once this long has passed with no line dropped.
QUIET_SECONDS = 1.0


class Flood:
    """The lines ``limit`` dropped, per window. One line in ``file`` reports them once
    :data:`QUIET_SECONDS` have passed with nothing dropped, or when the app exits."""

    def __init__(self, limit: RateLimit, file: AppLogFile, level: int) -> None:
        self.limit = limit
        self.file = file
        self.level = max(logging.WARNING, level)  # a report is never below the app's level
        self._lock = threading.Lock()
        self._dropped: Counter[str] = Counter()
        self._recent = 0
        self._watcher: threading.Thread | None = None
        self._at_exit = False

    def dropped(self, window: str) -> None:
        """Count one line of ``window``'s page that was not written."""
        with self._lock:
            self._dropped[window] += 1
            self._recent += 1
            if not self._at_exit:
                atexit.register(self.report)  # a flood still on when the app exits
                self._at_exit = True
            if self._watcher is None:
                self._watcher = threading.Thread(
                    target=self._watch, name="ramparts-log-flood", daemon=True
                )
                self._watcher.start()

    def _watch(self) -> None:
        pause = threading.Event()  # never set: a wait nothing cuts short
        while True:
            pause.wait(QUIET_SECONDS)
            with self._lock:
                if self._recent:
                    self._recent = 0
                    continue
                self._watcher = None
            self.report()
            return

    def report(self) -> None:
        """Write the count of lines dropped since the last report, if any."""
        with self._lock:
            counts, self._dropped = self._dropped, Counter()
        total = counts.total()
        if not total:
            return
        windows = ", ".join(f"{w} {n}" for w, n in sorted(counts.items()))
        message = (
            f"{total} page lines dropped: over the rate limit of {self.limit.per_second:g} "
            f"lines a second (bursts of {self.limit.burst}); by window: {windows}"
        )
        name = f"{LOGGER}.page"
        self.file.handle(
            logging.getLogger(name).makeRecord(name, self.level, "", 0, message, (), None)
        )
