"""Menu items chosen: ``@on_menu`` and the ``ramparts:menu`` page event (docs/menus.md).

Internal module; apps reach it through ``ramparts`` (``on_menu``, ``MenuEvent``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

if TYPE_CHECKING:
    from ramparts.commands import RunningApp

__all__ = ["PAGE_EVENT", "MenuEvent", "MenuEventHandler", "MenuEvents", "handlers_in", "on_menu"]

log = logging.getLogger("ramparts.menus")

#: The event a page granted an item (``menu_events``) receives when it is chosen.
PAGE_EVENT = "ramparts:menu"
_MARK = "__ramparts_menu__"


@attrs.frozen
class MenuEvent:
    """A menu item was chosen (``@on_menu``, the ``ramparts:menu`` page event).

    :ivar id: the item's ``id`` in the config.
    :ivar window: the label of the window whose menu bar or context menu it was in.
    :ivar menu: ``"app"`` (the menu bar, or its accelerator) or ``"context"``.
    """

    id: str
    window: str
    menu: str

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


#: The type of an ``@on_menu`` function: it gets the running app and the event.
MenuEventHandler = Callable[["RunningApp", MenuEvent], object]
H = TypeVar("H", bound=MenuEventHandler)


def on_menu(func: H) -> H:
    """Mark a function in the app's commands module as a handler of chosen menu items.

    The running app calls ``func(app, event)`` with a :class:`MenuEvent` for every item
    chosen in any window, on a thread of its own, one event after another in order.
    Exceptions go to the Python log.
    """
    setattr(func, _MARK, True)
    return func


def handlers_in(module: object) -> tuple[MenuEventHandler, ...]:
    """The ``@on_menu`` functions among ``module``'s names."""
    return tuple(v for v in vars(module).values() if callable(v) and getattr(v, _MARK, False))


class MenuEvents:
    """Hands chosen items to the pages granted them and to the app's handlers.

    Called on the GUI thread; the handlers run on one thread of their own, started on
    the first event, so a slow handler never holds the menus up.
    """

    def __init__(
        self,
        app: RunningApp,
        handlers: tuple[MenuEventHandler, ...],
        to_page: Callable[[MenuEvent], None],
    ) -> None:
        self._app = app
        self._handlers = handlers
        self._to_page = to_page
        self._queue: queue.SimpleQueue[MenuEvent] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, event: MenuEvent) -> None:
        self._to_page(event)
        if not self._handlers:
            return
        self._queue.put(event)
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="ramparts-menu-events", daemon=True
                )
                self._thread.start()

    def _serve(self) -> None:
        while True:
            event = self._queue.get()
            for handler in self._handlers:
                try:
                    handler(self._app, event)
                except Exception:
                    log.exception("the menu handler %s failed", handler.__qualname__)
