"""Commands: the only things page JS can call.

``@command`` marks a function as callable from the UI. Its signature is the contract:
every parameter is checked against its type hint before the function runs, unknown and
missing arguments are ``invalid_args``, and a first parameter annotated ``CallContext``
receives the call's context instead of a page value.
"""

from __future__ import annotations

import inspect
import re
import threading
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

import attrs

from ramparts.errors import InvalidArgs
from ramparts.validation import Validator, compile_hint, mentions_bytes

if TYPE_CHECKING:
    import pluggy
    from typing_extensions import TypeVar as TypeVarWithDefault

    from ramparts.backends import NativeClipboard, NativeDialogs
    from ramparts.bridge.session import SessionResources, WindowSession
    from ramparts.desktop.windows import Window
    from ramparts.toolkit.scope import Grants

    #: The type of ``CallContext.state``; a bare ``CallContext`` is ``CallContext[Any]``.
    StateT = TypeVarWithDefault("StateT", default=Any)
else:
    # Python 3.11's TypeVar takes no default (PEP 696); only type checkers read it.
    StateT = TypeVar("StateT")

__all__ = [
    "EVENT_MARK",
    "CallContext",
    "Command",
    "RunningApp",
    "as_command",
    "command",
    "commands_in",
    "on",
]

F = TypeVar("F", bound=Callable[..., Any])
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MARK = "__ramparts_command__"
EVENT_MARK = "__ramparts_ui_event__"


class RunningApp(Protocol):
    """What a command may use of the running app (``ctx.app``)."""

    @property
    def pm(self) -> pluggy.PluginManager:
        """The app's plugin manager: ``pm.hook.<name>(...)`` calls a hook that a
        capability added; tests ``pm.register`` hook implementations."""

    def open_window(self, label: str) -> None:
        """Open (or raise) the window ``label`` of ``[[tool.ramparts.windows]]``."""

    def close_window(self, label: str, *, force: bool = False) -> None:
        """Ask the window ``label`` to close if it is open (``@on_window_event`` handlers
        may keep it open, unless ``force``)."""

    def window(self, label: str) -> Window:
        """Control the window ``label`` of the config (docs/capabilities/window.md).

        :raises KeyError: no window has that label.
        """

    def emit(self, event: str, payload: Any = None, *, window: str | None = None) -> None:
        """Send an event to every open window's page, or only to ``window``."""


@attrs.frozen
class CallContext(Generic[StateT]):
    """What a command knows about the call it is serving.

    Annotate a command's first parameter ``CallContext`` (or ``CallContext[MyState]``,
    so that ``ctx.state`` is typed) to receive it.

    :ivar capability: the capability name, or ``None`` for the app's own commands.
    :ivar command: the command's bare name.
    :ivar window: the label of the window that called.
    :ivar state: the capability's configured state (what its ``configure`` returned),
        or ``None`` for app commands.
    :ivar session: the calling page's session. Prefer the accessors below
        (:attr:`grants`, :attr:`resources`, :attr:`ended`, :meth:`emit`, :meth:`can_call`).
    """

    capability: str | None
    command: str
    window: str
    state: StateT
    session: WindowSession = attrs.field(repr=False)

    def emit(self, event: str, payload: Any = None) -> None:
        """Send an event to the calling window (``ramparts.events.on(event, ...)`` in JS)."""
        self.session.emit(event, payload)

    @property
    def ended(self) -> threading.Event:
        """Set once the calling page has gone (reload, navigation, window closed): long
        work on its behalf should check it and stop, since nobody will read the answer."""
        return self.session.ended

    @property
    def grants(self) -> Grants:
        """The calling page's run-time scope grants (paths a person picked in a dialog):
        pass them to ``PathScope.resolve`` and ``PathScope.allows``."""
        return self.session.grants

    @property
    def resources(self) -> SessionResources:
        """What the calling page's session owns (child processes, dialogs): hold what the
        command starts here, so that it is released when the page goes."""
        return self.session.resources

    def can_call(self, capability: str) -> bool:
        """Whether the calling window may call at least one command of ``capability``
        (it is declared for this window and its ``allow`` list names a command)."""
        return any(r.capability == capability for r in self.session.registry.routes.values())

    @property
    def app(self) -> RunningApp:
        """The running app: open and close windows, emit to all windows, call hooks.

        :raises RuntimeError: the session was made by hand without a window (only the
            core's own unit tests do that; ``ramparts.testing`` bridges have an app).
        """
        host = self.session.host
        if host is None or host.app is None:
            raise RuntimeError(f"the session of window {self.window!r} belongs to no app")
        app: RunningApp = host.app
        return app

    def native_dialogs(self) -> NativeDialogs | None:
        """The webview backend's dialogs, modal to the calling window and closed when its
        page goes; ``None`` when the window has no webview (``ramparts.testing``)."""
        host = self.session.host
        if host is None or host.app is None:
            return None
        dialogs: NativeDialogs | None = host.app.native_dialogs(self.session)
        return dialogs

    def native_clipboard(self) -> NativeClipboard | None:
        """The webview backend's clipboard (the desktop's), text only; ``None`` when the
        window has no webview (``ramparts.testing``)."""
        host = self.session.host
        if host is None or host.app is None:
            return None
        clipboard: NativeClipboard | None = host.app.native_clipboard(self.session)
        return clipboard


@attrs.frozen
class Param:
    name: str
    validate: Validator
    required: bool
    default: Any


@attrs.frozen
class Command:
    """A command as the bridge sees it. Built by :func:`command`; immutable."""

    name: str
    func: Callable[..., Any]
    params: tuple[Param, ...]
    wants_context: bool
    is_async: bool
    binary: bool  # bytes in the signature: the call travels on the binary carrier
    timeout: float | None
    doc: str

    def bind(self, args: Any) -> dict[str, Any]:
        """Validate page arguments (a JSON object) into keyword arguments."""
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise InvalidArgs("arguments must be an object of named values")
        known = {p.name for p in self.params}
        unknown = sorted(k for k in args if k not in known)
        if unknown:
            raise InvalidArgs(
                f"unknown argument {unknown[0]!r}; {self.name} takes "
                + (", ".join(sorted(known)) or "no arguments"),
                data={"path": unknown[0]},
            )
        bound: dict[str, Any] = {}
        for p in self.params:
            if p.name in args:
                bound[p.name] = p.validate(args[p.name], p.name)
            elif p.required:
                raise InvalidArgs(f"missing argument {p.name!r}", data={"path": p.name})
        return bound


def _build(func: Callable[..., Any], name: str | None, timeout: float | None) -> Command:
    cmd_name = name or func.__name__
    if not _NAME.match(cmd_name):
        raise ValueError(f"command name {cmd_name!r} must be an identifier of at most 64 chars")
    hints = typing.get_type_hints(func, include_extras=True)
    sig = inspect.signature(func)
    params: list[Param] = []
    wants_context = False
    binary = mentions_bytes(hints.get("return", None))
    for i, (pname, p) in enumerate(sig.parameters.items()):
        hint = hints.get(pname, Any)
        # ``CallContext[MyState]`` is a generic alias of the class, not the class itself.
        if i == 0 and (hint is CallContext or typing.get_origin(hint) is CallContext):
            wants_context = True
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            raise TypeError(f"command {cmd_name}: parameter {pname} must be a named parameter")
        if pname not in hints:
            raise TypeError(f"command {cmd_name}: parameter {pname} needs a type hint")
        binary = binary or mentions_bytes(hint)
        params.append(
            Param(
                name=pname,
                validate=compile_hint(hint),
                required=p.default is inspect.Parameter.empty,
                default=p.default,
            )
        )
    return Command(
        name=cmd_name,
        func=func,
        params=tuple(params),
        wants_context=wants_context,
        is_async=inspect.iscoroutinefunction(func),
        binary=binary,
        timeout=timeout,
        doc=inspect.getdoc(func) or "",
    )


@overload
def command(func: F, /) -> F: ...
@overload
def command(*, name: str | None = None, timeout: float | None = None) -> Callable[[F], F]: ...
def command(func: Any = None, /, *, name: str | None = None, timeout: float | None = None) -> Any:
    """Mark a function as a command the UI may call (if the config allows it).

    Use bare (``@command``) or with options (``@command(name="sum", timeout=5)``).
    The function is returned unchanged, so it stays a normal, testable Python function.

    :param name: the command's name in JS; defaults to the function name.
    :param timeout: seconds before the call answers ``timeout``; ``None`` uses the app's
        ``security.command_timeout``; ``math.inf`` never times out (a native dialog
        waits for a person).
    """

    def mark(f: F) -> F:
        setattr(f, _MARK, _build(f, name, timeout))
        return f

    return mark(func) if func is not None else mark


def as_command(obj: Any) -> Command | None:
    """The :class:`Command` behind a ``@command`` function, or ``None``."""
    found = getattr(obj, _MARK, None)
    return found if isinstance(found, Command) else None


def commands_in(module: Any) -> dict[str, Command]:
    """Every ``@command`` *defined* in ``module``, by command name.

    Commands imported from elsewhere (say, a plugin's) are skipped: importing
    ``read_text`` into the app's commands module must not expose it by its bare name,
    around the capability's ``allow`` list.
    """
    found: dict[str, Command] = {}
    for value in vars(module).values():
        cmd = as_command(value)
        if cmd is not None and getattr(cmd.func, "__module__", None) == module.__name__:
            if cmd.name in found and found[cmd.name].func is not cmd.func:
                raise ValueError(f"two commands are named {cmd.name!r}")
            found[cmd.name] = cmd
    return found


def on(event: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Mark a function in the app's commands module as the handler of a UI event.

    The event must be listed in ``[tool.ramparts.events] from_ui``. The handler gets the
    event's payload (already JSON-decoded); what it returns is ignored.
    """

    def mark(func: Callable[[Any], Any]) -> Callable[[Any], Any]:
        setattr(func, EVENT_MARK, event)
        return func

    return mark
