"""The ``window`` capability: let a page open, close and control the app's windows.

Config::

    [tool.ramparts.capabilities.window]
    allow = ["open", "close", "set_title", "maximize"]
    labels = ["settings"]    # the windows its pages may open and control (default: none)
    self = true              # may control the calling window itself (default: false)
    events = ["resized"]     # its pages' own window events they receive (default: none)

Opening a window never widens what any page can do: each window still gets only the
capabilities its own ``[[tool.ramparts.windows]]`` entry lists. See
docs/capabilities/window.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

import ramparts
from ramparts import CallContext, Capability, ConfigContext, NotAllowed, command
from ramparts.errors import CommandFailed, InvalidArgs

if TYPE_CHECKING:
    from ramparts.desktop.windows import Window

#: The events a page may be granted (``events``), each as ``ramparts:window-<kind>``:
#: the kinds of ``ramparts.backends.WindowEventKind`` (a layer above this one).
EVENT_KINDS = ("resized", "moved", "focused", "close-requested")


@attrs.frozen
class WindowGrants:
    #: The windows this capability's pages may open and control.
    labels: frozenset[str]
    #: Whether a page may control its own window.
    own: bool = False
    events: frozenset[str] = frozenset()


def configure(table: Mapping[str, Any], ctx: ConfigContext) -> WindowGrants:
    ctx.check_keys(table, ("labels", "self", "events"))
    labels = table.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ctx.error("labels", labels, "a list of window labels")
    own = table.get("self", False)
    if not isinstance(own, bool):
        raise ctx.error("self", own, "true or false")
    return WindowGrants(frozenset(labels), own, frozenset(_events(table, ctx)))


def _events(table: Mapping[str, Any], ctx: ConfigContext) -> list[str]:
    expected = "a list of window events: " + ", ".join(EVENT_KINDS)
    events = table.get("events", [])
    if not isinstance(events, list) or not all(isinstance(x, str) for x in events):
        raise ctx.error("events", events, expected)
    for event in events:
        if event not in EVENT_KINDS:
            raise ctx.error("events", event, expected)
    return events


def _target(ctx: CallContext[WindowGrants], label: str | None) -> Window:
    """The window a call may control: one ``labels`` lists, or its own with ``self``."""
    own = label is None or label == ctx.window
    target = ctx.window if label is None else label
    if own and not ctx.state.own and target not in ctx.state.labels:
        raise NotAllowed("this window may not control itself (window.self is not true)")
    if not own and target not in ctx.state.labels:
        raise NotAllowed(f"this window may not control {target!r} (not in window.labels)")
    try:
        return ctx.app.window(target)
    except KeyError:
        raise NotAllowed(f"no window is labelled {target!r}") from None


def _control(ctx: CallContext[WindowGrants], label: str | None, action: str, *args: Any) -> None:
    window = _target(ctx, label)
    try:
        getattr(window, action)(*args)
    except ramparts.RampartsError as e:  # WindowClosed
        raise CommandFailed(str(e)) from None


@command(name="open")
def open_window(ctx: CallContext[WindowGrants], label: str) -> None:
    """Open (or raise) the window ``label``, if this capability's ``labels`` lists it."""
    if label not in ctx.state.labels:
        raise NotAllowed(f"this window may not open {label!r} (not in window.labels)")
    try:
        ctx.app.open_window(label)
    except KeyError:
        raise NotAllowed(f"no window is labelled {label!r}") from None


@command
def close(ctx: CallContext[WindowGrants], label: str | None = None) -> None:
    """Ask a window to close (Python's ``@on_window_event`` may keep it open). Without
    ``label``, the calling window, which ``close`` in ``allow`` always may close."""
    if label is None or label == ctx.window:
        ctx.app.close_window(ctx.window)
        return
    _control(ctx, label, "close")


@command
def set_title(ctx: CallContext[WindowGrants], title: str, label: str | None = None) -> None:
    """Set the title of ``label``'s window (without one: the caller's, with ``self``)."""
    if len(title) > 1024:
        raise InvalidArgs("a title of at most 1024 characters")
    _control(ctx, label, "set_title", title)


@command
def set_size(
    ctx: CallContext[WindowGrants], width: int, height: int, label: str | None = None
) -> None:
    """Resize a window (within its config's ``min``/``max`` size)."""
    if not (0 < width <= 100_000 and 0 < height <= 100_000):
        raise InvalidArgs("width and height are pixels, 1 to 100000")
    _control(ctx, label, "set_size", width, height)


@command
def set_position(ctx: CallContext[WindowGrants], x: int, y: int, label: str | None = None) -> None:
    """Move a window's top-left corner to ``(x, y)`` on the screen."""
    if not (-100_000 <= x <= 100_000 and -100_000 <= y <= 100_000):
        raise InvalidArgs("x and y are pixels, -100000 to 100000")
    _control(ctx, label, "set_position", x, y)


@command
def minimize(ctx: CallContext[WindowGrants], label: str | None = None) -> None:
    _control(ctx, label, "minimize")


@command
def maximize(ctx: CallContext[WindowGrants], label: str | None = None) -> None:
    _control(ctx, label, "maximize")


@command
def unmaximize(ctx: CallContext[WindowGrants], label: str | None = None) -> None:
    _control(ctx, label, "unmaximize")


@command
def set_fullscreen(ctx: CallContext[WindowGrants], on: bool, label: str | None = None) -> None:
    _control(ctx, label, "set_fullscreen", on)


@command
def show(ctx: CallContext[WindowGrants], label: str | None = None) -> None:
    _control(ctx, label, "show")


@command
def hide(ctx: CallContext[WindowGrants], label: str | None = None) -> None:
    _control(ctx, label, "hide")


@command
def focus(ctx: CallContext[WindowGrants], label: str | None = None) -> None:
    _control(ctx, label, "focus")


@command
def state(ctx: CallContext[WindowGrants], label: str | None = None) -> dict[str, Any]:
    """A window's size, position and state: ``{x, y, width, height, maximized,
    minimized, fullscreen, visible, focused}``."""
    window = _target(ctx, label)
    try:
        return window.state().to_json()
    except ramparts.RampartsError as e:
        raise CommandFailed(str(e)) from None


COMMANDS: list[Callable[..., Any]] = [
    open_window,
    close,
    set_title,
    set_size,
    set_position,
    minimize,
    maximize,
    unmaximize,
    set_fullscreen,
    show,
    hide,
    focus,
    state,
]


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    return Capability(
        name="window",
        commands=COMMANDS,
        configure=configure,
        description="open, close and control the app's declared windows",
    )
