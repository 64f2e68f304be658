"""Ramparts: Python desktop apps with an HTML UI and a deny-by-default, randomized bridge.

Public API (everything else is internal)::

    from ramparts import command, on, CallContext      # app and plugin commands
    from ramparts import Capability, ConfigContext, hookimpl   # capability plugins
    from ramparts import errors                        # the exception tree
"""

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
    TooLarge,
)
from ramparts.hookspecs import hookimpl
from ramparts.toolkit.configtable import ConfigContext

from . import errors

__all__ = [
    "CallContext",
    "Capability",
    "CommandError",
    "CommandFailed",
    "CommandTimeout",
    "ConfigContext",
    "ConfigError",
    "InvalidArgs",
    "NotAllowed",
    "OutOfScope",
    "TooLarge",
    "command",
    "errors",
    "hookimpl",
    "on",
]
__version__ = "0.1.0"
