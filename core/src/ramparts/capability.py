"""What a plugin hands to the core: the capability it provides."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from ramparts.commands import Command, as_command
from ramparts.toolkit.configtable import ConfigContext

__all__ = ["Capability"]


def _no_options(table: Mapping[str, Any], ctx: ConfigContext) -> None:
    if table:
        key = sorted(table)[0]
        raise ctx.error(key, table[key], "no such key: this capability takes only 'allow'")


@attrs.frozen
class Capability:
    """A capability: a name, its commands, and how to read its config.

    A plugin returns one from its ``ramparts_capability`` hook.

    :ivar name: the capability's name; must equal the plugin's entry point name.
    :ivar commands: ``@command`` functions; the app's ``allow`` list picks among them.
    :ivar configure: ``configure(table, ctx) -> state``: parse the capability's config
        table (everything but ``allow``) into the state commands receive as
        ``CallContext.state``. Raise ``ctx.error(...)`` for bad values. The default
        accepts no keys.
    :ivar description: one line for ``ramparts plugins`` and ``ramparts audit``.
    :ivar hookspecs: a module (or class) of pluggy hook specs (``@ramparts.hookspec``)
        this capability adds, so that other plugins or the app can extend it (e.g. the
        dialog capability's ``ramparts_dialog_answer``). Added to the plugin manager when
        the capability loads; call them through ``ctx.app.pm.hook``.
    """

    name: str
    commands: Sequence[Callable[..., Any]]
    configure: Callable[[Mapping[str, Any], ConfigContext], Any] = _no_options
    description: str = ""
    hookspecs: Any = None

    def command_table(self) -> dict[str, Command]:
        """The capability's commands by name (what its ``allow`` list may name)."""
        table: dict[str, Command] = {}
        for func in self.commands:
            cmd = as_command(func)
            if cmd is None:
                raise TypeError(f"capability {self.name}: {func!r} is not a @command")
            table[cmd.name] = cmd
        return table
