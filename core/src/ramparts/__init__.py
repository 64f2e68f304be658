"""Ramparts: Python desktop apps with an HTML UI and a deny-by-default, randomized bridge.

The declared API is what ``__all__`` lists here, plus :mod:`ramparts.toolkit` (the
shared mechanics of capabilities: scopes, config checks, atomic writes),
:mod:`ramparts.errors` (the exception tree) and :mod:`ramparts.testing` (test helpers).
Every other module is internal and may change without notice::

    from ramparts import command, on, CallContext          # an app's commands
    from ramparts import on_second_instance, SecondInstance  # single_instance apps
    from ramparts import on_window_event, WindowEvent        # window events
    from ramparts import on_menu, MenuEvent                  # menu items chosen
    from ramparts import build_menus, Menus, MenuItem        # menus built in Python
    from ramparts import Capability, ConfigContext, hookimpl   # a plugin's capability
    from ramparts import InvalidArgs, OutOfScope, ...       # errors the page sees

Words: a *capability* is what an app's config grants and its page calls (``fs``); a
*plugin* is the distribution that provides it (``ramparts-fs``).
"""

from typing import TYPE_CHECKING

from ramparts._lazy import lazy_getattr
from ramparts.capability import Capability
from ramparts.commands import CallContext, RunningApp, command, on
from ramparts.errors import (
    CommandError,
    CommandFailed,
    CommandTimeout,
    ConfigError,
    InvalidArgs,
    NotAllowed,
    OutOfScope,
    PluginError,
    RampartsError,
    SessionEnded,
    TooLarge,
)
from ramparts.hookspecs import hookimpl, hookspec
from ramparts.toolkit.configtable import ConfigContext

from . import errors

if TYPE_CHECKING:
    from ramparts.bridge.protocol import strict_loads
    from ramparts.bridge.session import Held, SessionResources, WindowSession
    from ramparts.desktop.menus import MenuEvent, build_menus, on_menu
    from ramparts.desktop.single_instance import SecondInstance, on_second_instance
    from ramparts.desktop.windows import (
        Window,
        WindowClosed,
        WindowEvent,
        WindowState,
        on_window_event,
    )
    from ramparts.menuconfig import MenuItem, Menus

__all__ = [
    "CallContext",
    "Capability",
    "CommandError",
    "CommandFailed",
    "CommandTimeout",
    "ConfigContext",
    "ConfigError",
    "Held",
    "InvalidArgs",
    "MenuEvent",
    "MenuItem",
    "Menus",
    "NotAllowed",
    "OutOfScope",
    "PluginError",
    "RampartsError",
    "RunningApp",
    "SecondInstance",
    "SessionEnded",
    "SessionResources",
    "TooLarge",
    "Window",
    "WindowClosed",
    "WindowEvent",
    "WindowSession",
    "WindowState",
    "build_menus",
    "command",
    "errors",
    "hookimpl",
    "hookspec",
    "on",
    "on_menu",
    "on_second_instance",
    "on_window_event",
    "strict_loads",
]
__version__ = "0.1.0"

#: Names loaded on first use (PEP 562): the bridge's modules cost import time that an
#: app's ``import ramparts`` need not pay until a session exists.
_LAZY = {
    "Held": "ramparts.bridge.session",
    "SessionResources": "ramparts.bridge.session",
    "WindowSession": "ramparts.bridge.session",
    "SecondInstance": "ramparts.desktop.single_instance",
    "on_second_instance": "ramparts.desktop.single_instance",
    "strict_loads": "ramparts.bridge.protocol",
    "Window": "ramparts.desktop.windows",
    "WindowClosed": "ramparts.desktop.windows",
    "WindowEvent": "ramparts.desktop.windows",
    "WindowState": "ramparts.desktop.windows",
    "on_window_event": "ramparts.desktop.windows",
    "MenuEvent": "ramparts.desktop.menus",
    "on_menu": "ramparts.desktop.menus",
    "build_menus": "ramparts.desktop.menus",
    "MenuItem": "ramparts.menuconfig",
    "Menus": "ramparts.menuconfig",
}


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
