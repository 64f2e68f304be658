"""The ``window`` capability: let a page open or close the app's windows.

Config::

    [tool.ramparts.capabilities.window]
    allow = ["open", "close"]
    labels = ["settings"]        # windows this capability may open (default: none)

Opening a window never widens what any page can do: each window still gets only the
capabilities its own ``[[tool.ramparts.windows]]`` entry lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

import ramparts
from ramparts import CallContext, Capability, ConfigContext, NotAllowed, command


@attrs.frozen
class WindowState:
    labels: frozenset[str]


def configure(table: Mapping[str, Any], ctx: ConfigContext) -> WindowState:
    ctx.check_keys(table, ("labels",))
    labels = table.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ctx.error("labels", labels, "a list of window labels")
    return WindowState(frozenset(labels))


@command(name="open")
def open_window(ctx: CallContext, label: str) -> None:
    """Open (or raise) the window ``label``, if this capability's ``labels`` lists it."""
    if label not in ctx.state.labels:
        raise NotAllowed(f"this window may not open {label!r} (not in window.labels)")
    try:
        ctx.app.open_window(label)
    except KeyError:
        raise NotAllowed(f"no window is labelled {label!r}") from None


@command
def close(ctx: CallContext) -> None:
    """Close the calling window."""
    ctx.app.close_window(ctx.window)


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    return Capability(
        name="window",
        commands=[open_window, close],
        configure=configure,
        description="open and close the app's declared windows",
    )
