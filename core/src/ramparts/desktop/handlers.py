"""Internal. The app's handlers of desktop events, run in order on a thread of their own."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from ramparts.commands import RunningApp

__all__ = ["HandlerThread"]

log = logging.getLogger("ramparts.desktop")

E = TypeVar("E")


class HandlerThread(Generic[E]):
    """Calls every ``handler(app, event)`` for each event put, one event after another
    in order, on one thread of its own (named ``name``), started with the first event:
    a slow handler never holds the GUI thread up. An exception goes to the log."""

    def __init__(
        self,
        app: RunningApp,
        handlers: tuple[Callable[[RunningApp, E], object], ...],
        name: str,
        what: str,
    ) -> None:
        """:param what: the handlers' kind, for the log (``"menu"``: "the menu handler
        f failed")."""
        self.handlers = handlers
        self._app = app
        self._name = name
        self._what = what
        self._queue: queue.SimpleQueue[E] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, event: E) -> None:
        if not self.handlers:
            return
        self._queue.put(event)
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
                self._thread.start()

    def call(self, handler: Callable[[RunningApp, E], object], event: E) -> object:
        """``handler``'s answer to ``event``, or ``None`` if it raised (logged)."""
        try:
            return handler(self._app, event)
        except Exception:
            log.exception("the %s handler %s failed", self._what, handler.__qualname__)
            return None

    def _serve(self) -> None:
        while True:
            event = self._queue.get()
            for handler in self.handlers:
                self.call(handler, event)
