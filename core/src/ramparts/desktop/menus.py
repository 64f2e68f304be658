"""Menu items chosen: ``@on_menu`` and the ``ramparts:menu`` page event (docs/menus.md).

Internal module; apps reach it through ``ramparts`` (``on_menu``, ``MenuEvent``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ramparts.desktop.handlers import HandlerThread
from ramparts.errors import ConfigError
from ramparts.menuconfig import Menus, check_menus
from ramparts.toolkit.configtable import ConfigContext

if TYPE_CHECKING:
    from types import ModuleType

    from ramparts.commands import RunningApp
    from ramparts.config import AppConfig

__all__ = [
    "PAGE_EVENT",
    "MenuEvent",
    "MenuEventHandler",
    "MenuEvents",
    "app_menus",
    "build_menus",
    "handlers_in",
    "on_menu",
]


#: The event a page granted an item (``menu_events``) receives when it is chosen.
PAGE_EVENT = "ramparts:menu"
_MARK = "__ramparts_menu__"
_BUILDER = "__ramparts_build_menus__"


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

    Called on the GUI thread; the handlers run on a thread of their own
    (:class:`~ramparts.desktop.handlers.HandlerThread`), so a slow handler never holds
    the menus up.
    """

    def __init__(
        self,
        app: RunningApp,
        handlers: tuple[MenuEventHandler, ...],
        to_page: Callable[[MenuEvent], None],
    ) -> None:
        self._to_page = to_page
        self._handlers = HandlerThread(app, handlers, "ramparts-menu-events", "menu")

    def __call__(self, event: MenuEvent) -> None:
        self._to_page(event)
        self._handlers.put(event)


B = TypeVar("B", bound=Callable[[], Menus])


def build_menus(func: B) -> B:
    """Mark a function in the app's commands module as the builder of the app's menus.

    The app calls ``func()`` once as it loads; the :class:`~ramparts.menuconfig.Menus`
    it returns are checked as the config's tables are, and stand in for
    ``[[tool.ramparts.menu]]`` and ``[tool.ramparts.context_menu]`` (the config must
    then declare none). Which pages hear which items stays in the config
    (``menu_events``).
    """
    setattr(func, _BUILDER, True)
    return func


def app_menus(config: AppConfig, module: ModuleType | None) -> Menus:
    """The app's menus: from its ``@build_menus`` function if ``module`` has one, else
    from the config; every window's ``menu_events`` names one of their items.

    :raises ConfigError: a builder beside menus in the config, or two builders; what a
        builder returns fails the config's checks; a grant names no item.
    """
    builders = [
        v for v in vars(module).values() if callable(v) and getattr(v, _BUILDER, False)
    ] if module is not None else []  # fmt: skip
    menus = config.menus
    if builders:
        menus = _built(config, module, builders)
    ids = set(menus.ids())
    for w in config.windows:
        for item_id in w.menu_events:
            if item_id not in ids:
                raise ConfigError(
                    config.file,
                    f"tool.ramparts.windows[{w.label}].menu_events",
                    item_id,
                    f"the id of one of the app's menu items: {', '.join(sorted(ids)) or 'none'}",
                )
    return menus


def _built(config: AppConfig, module: Any, builders: list[Callable[[], Menus]]) -> Menus:
    where = f"{module.__name__}.{builders[0].__qualname__}"
    if len(builders) > 1 or config.menus.ids():
        found = [f"{module.__name__}.{b.__qualname__}" for b in builders]
        raise ConfigError(
            config.file,
            "tool.ramparts.menu",
            found if len(builders) > 1 else "menus in the config",
            f"menus in the config or from one @build_menus function, not both ({where})",
        )
    menus = builders[0]()
    if not isinstance(menus, Menus):
        raise ConfigError(Path(module.__file__), f"{where}()", menus, "a ramparts.Menus")
    ctx = ConfigContext(Path(module.__file__), f"{where}()", config.app_dir, config.identifier)
    return check_menus(menus, ctx)
