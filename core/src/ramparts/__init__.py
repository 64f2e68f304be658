"""Ramparts: Python desktop apps with an HTML UI and a deny-by-default, randomized bridge.

Public API (everything else is internal)::

    from ramparts import command, on, CallContext      # app and plugin commands
    from ramparts import Capability, ConfigContext, hookimpl   # capability plugins
    from ramparts import errors                        # the exception tree
"""

import importlib
from typing import TYPE_CHECKING, Any

from ramparts.capability import Capability
from ramparts.commands import CallContext, command, on
from ramparts.errors import (
    CommandError,
    CommandFailed,
    CommandTimeout,
    ConfigError,
    InvalidArgs,
    NotAllowed,
    OutOfScope,
    RampartsError,
    TooLarge,
)
from ramparts.hookspecs import hookimpl, hookspec
from ramparts.toolkit.configtable import ConfigContext

from . import errors

if TYPE_CHECKING:
    from ramparts.bridge.protocol import strict_loads
    from ramparts.bridge.session import Held, SessionEnded, SessionResources, WindowSession

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
    "NotAllowed",
    "OutOfScope",
    "RampartsError",
    "SessionEnded",
    "SessionResources",
    "TooLarge",
    "WindowSession",
    "command",
    "errors",
    "hookimpl",
    "hookspec",
    "on",
    "strict_loads",
]
__version__ = "0.1.0"

#: Names loaded on first use (PEP 562): the bridge's modules cost import time that an
#: app's ``import ramparts`` need not pay until a session exists.
_LAZY = {
    "Held": "ramparts.bridge.session",
    "SessionEnded": "ramparts.bridge.session",
    "SessionResources": "ramparts.bridge.session",
    "WindowSession": "ramparts.bridge.session",
    "strict_loads": "ramparts.bridge.protocol",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'ramparts' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
