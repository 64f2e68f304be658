"""TypeScript declarations of one app's ``window.ramparts`` (``ramparts types``).

Internal: ``ramparts types`` writes what :func:`app_declarations` returns.

The declarations come from the app's registry, so they name exactly the routes the page
can call: the app's own commands and the capability commands an ``allow`` list names. A
command's argument and result types come from its type hints. Arguments are typed as
the bridge checks them (``validation.py``) and results as it sends them
(``bridge/protocol.py``): a ``bytes`` argument may be any ``ArrayBuffer`` or view, a
``bytes`` result is a ``Uint8Array``, an attrs field with a default may be left out of
an argument but is always in a result. A hint with no JSON form becomes ``unknown``
rather than an error: return hints are not checked when a command is defined.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import json
import re
import types
import typing
from typing import TYPE_CHECKING, Any, Literal

import attrs

from ramparts.desktop.windows import page_events
from ramparts.errors import CommandError

if TYPE_CHECKING:
    from ramparts.bridge.session import Registry
    from ramparts.commands import Command
    from ramparts.config import AppConfig

__all__ = ["BRIDGE_ERROR_CODES", "Direction", "TypeWriter", "app_declarations", "error_codes"]

Direction = Literal["args", "result"]

#: Codes the bridge itself answers with (errors.py, and ``rejected`` from the bootstrap).
BRIDGE_ERROR_CODES = (
    "not_allowed",
    "invalid_args",
    "out_of_scope",
    "too_large",
    "timeout",
    "failed",
    "rejected",
)

# Names the declarations use themselves, or take from TypeScript's global scope inside
# the namespace: an app class of one of these names would shadow them.
_RESERVED = frozenset(
    {
        "Api", "ArgsOf", "Commands", "ErrorCode", "Events", "RampartsError",
        "RampartsErrorConstructor", "UiEvent", "Array", "ArrayBuffer", "ArrayBufferView",
        "Error", "Function", "Object", "Promise", "Record", "String", "Uint8Array",
    }
)  # fmt: skip
_ARGS, _RESULT = '"args"', '"result"'
_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_SEQUENCES = (list, collections.abc.Sequence, collections.abc.MutableSequence)
_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def _is_record(hint: Any) -> bool:
    """A class sent as a JSON object of its fields: an interface of its own."""
    if typing.is_typeddict(hint):
        return True
    return isinstance(hint, type) and (attrs.has(hint) or dataclasses.is_dataclass(hint))


def _differs(hint: Any, seen: frozenset[Any] = frozenset()) -> bool:
    """Whether ``hint`` reads differently as an argument than as a result (``bytes``, or
    an attrs field with a default, anywhere in it): then it gets two interfaces."""
    if hint in (bytes, bytearray, memoryview):
        return True
    if _is_record(hint):
        if hint in seen:
            return False
        if (
            isinstance(hint, type)
            and attrs.has(hint)
            and any(f.default is not attrs.NOTHING for f in attrs.fields(hint))
        ):
            return True
        return any(_differs(h, seen | {hint}) for h in _field_hints(hint).values())
    return any(_differs(a, seen) for a in typing.get_args(hint) if a is not Ellipsis)


def _field_hints(cls: Any) -> dict[str, Any]:
    """A record's field hints; ``{}`` when they cannot be resolved (a name imported only
    for type checkers)."""
    try:
        return typing.get_type_hints(cls)
    except Exception:
        return {}


def _union(parts: list[str]) -> str:
    unique = list(dict.fromkeys(parts))
    return "unknown" if "unknown" in unique else " | ".join(unique)


def _array(item: str) -> str:
    return f"({item})[]" if " | " in item else f"{item}[]"


def _literal(values: tuple[Any, ...]) -> str:
    parts = []
    for v in values:
        if v is None or isinstance(v, (bool, int, str)):
            parts.append(json.dumps(v))
        else:  # an Enum member: the bridge neither accepts nor sends one as itself
            return "unknown"
    return _union(parts)


class TypeWriter:
    """Renders hints as TypeScript types, collecting the interfaces they name.

    :ivar interfaces: the declarations of the interfaces named so far, in order.
    """

    def __init__(self) -> None:
        self.interfaces: list[str] = []
        self._names: dict[tuple[Any, Direction], str] = {}

    def render(self, hint: Any, direction: Direction) -> str:
        """The TypeScript type of ``hint`` as an argument or as a result."""
        if hint is Any or hint is object or hint is inspect.Parameter.empty:
            return "unknown"
        if hint is None or hint is type(None):
            return "null"
        simple = {bool: "boolean", int: "number", float: "number", str: "string"}
        for py, ts in simple.items():
            if hint is py:
                return ts
        if hint in (bytes, bytearray, memoryview):
            return "Uint8Array" if direction == "result" else "ArrayBuffer | ArrayBufferView"
        if hasattr(hint, "__supertype__"):  # typing.NewType
            return self.render(hint.__supertype__, direction)
        if _is_record(hint):
            return self._reference(hint, direction)
        return self._generic(hint, direction)

    def _generic(self, hint: Any, direction: Direction) -> str:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is typing.Annotated:
            return self.render(args[0], direction)
        if origin is typing.Literal:
            return _literal(args)
        if origin in (typing.Union, types.UnionType):
            return _union([self.render(a, direction) for a in args])
        if hint is tuple or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
            return _array(self.render(args[0] if args else Any, direction))
        if origin is tuple:
            return "[" + ", ".join(self.render(a, direction) for a in args) + "]"
        if hint in _SEQUENCES or origin in _SEQUENCES:
            return _array(self.render(args[0] if args else Any, direction))
        if hint in _MAPPINGS or origin in _MAPPINGS:
            # JSON object keys are strings whatever the Python keys were.
            return f"Record<string, {self.render(args[1] if args else Any, direction)}>"
        return "unknown"

    def _reference(self, cls: Any, direction: Direction) -> str:
        key = (cls, direction if _differs(cls) else "result")
        name = self._names.get(key)
        if name is not None:
            return name
        base = cls.__name__ + ("Input" if key[1] == "args" else "")
        name, n = base, 1
        while name in _RESERVED or name in self._names.values():
            n += 1
            name = f"{base}{n}"
        self._names[key] = name  # before the fields: a class may refer to itself
        self.interfaces.append(self._interface(cls, name, direction))
        return name

    def _interface(self, cls: Any, name: str, direction: Direction) -> str:
        hints = _field_hints(cls)
        note = ""
        if typing.is_typeddict(cls):
            required = set(cls.__required_keys__)
            fields = [(k, h, k in required) for k, h in hints.items()]
        elif attrs.has(cls):
            # A result holds every field; an argument may leave out those with defaults.
            loose = direction == "args"
            fields = [
                (f.name, hints.get(f.name, Any), not loose or f.default is attrs.NOTHING)
                for f in attrs.fields(cls)
            ]
        else:
            fields = [(f.name, hints.get(f.name, Any), True) for f in dataclasses.fields(cls)]
            note = (
                "  /** A dataclass: the bridge sends attrs instances, not dataclasses, so a "
                "command that returns one fails with `failed`. */\n"
            )
        body = "".join(
            f"    {_key(k)}{'' if req else '?'}: {self.render(h, direction)};\n"
            for k, h, req in fields
        )
        return f"{note}  interface {name} {{\n{body}  }}\n"


def _key(name: str) -> str:
    return name if _IDENT.match(name) else json.dumps(name)


def _doc(lines: list[str], indent: str) -> str:
    text = " ".join(line for line in lines if line).replace("*/", "* /")
    return f"{indent}/** {text} */\n" if text else ""


def error_codes() -> list[str]:
    """The bridge's codes, then those of every ``CommandError`` subclass imported so far
    (a loaded plugin's own codes)."""
    codes = dict.fromkeys(BRIDGE_ERROR_CODES)
    pending = [CommandError]
    while pending:
        cls = pending.pop()
        codes.setdefault(cls.code)
        pending.extend(cls.__subclasses__())
    return list(codes)


def _args_type(cmd: Command, writer: TypeWriter) -> str:
    if not cmd.params:
        return "Record<string, never>"
    hints = typing.get_type_hints(cmd.func)  # resolved once already, by @command
    fields = "".join(
        f" {p.name}{'' if p.required else '?'}: {writer.render(hints[p.name], 'args')};"
        for p in cmd.params
    )
    return "{" + fields + " }"


def _result_type(cmd: Command, writer: TypeWriter) -> str:
    hints = typing.get_type_hints(cmd.func)
    return writer.render(hints.get("return", Any), "result")


def _windows_of(config: AppConfig, registry: Registry) -> dict[str, list[str]]:
    """Route name -> the labels of the windows that may call it."""
    found: dict[str, list[str]] = {name: [] for name in registry.routes}
    for w in config.windows:
        for name in registry.for_window(w.capabilities, w.app_commands).routes:
            found[name].append(w.label)
    return found


def _commands_block(config: AppConfig, registry: Registry, writer: TypeWriter) -> str:
    windows = _windows_of(config, registry)
    out = []
    for name in sorted(registry.routes):
        cmd = registry.routes[name].command
        summary = cmd.doc.split("\n\n")[0].replace("\n", " ")
        doc = _doc([summary, f"Windows: {', '.join(windows[name]) or 'none'}."], "    ")
        args, result = _args_type(cmd, writer), _result_type(cmd, writer)
        out.append(f"{doc}    {json.dumps(name)}: {{ args: {args}; result: {result} }};\n")
    return "  interface Commands {\n" + "".join(out) + "  }\n"


def _namespaces_block(registry: Registry) -> str:
    """``ramparts.<capability>.<command>(args)``, as the bootstrap builds it."""
    spaces: dict[str, list[str]] = {}
    for name, route in sorted(registry.routes.items()):
        if "." not in name:
            continue  # app commands have no shortcut
        cap, cmd = name.split(".", 1)
        optional = "?" if all(not p.required for p in route.command.params) else ""
        ref = f"Commands[{json.dumps(name)}]"
        spaces.setdefault(cap, []).append(
            f"      {_key(cmd)}(args{optional}: {ref}[{_ARGS}]): Promise<{ref}[{_RESULT}]>;\n"
        )
    return "".join(
        f"    readonly {_key(cap)}: {{\n{''.join(lines)}    }};\n" for cap, lines in spaces.items()
    )


_FIXED = """\
  type ArgsOf<K extends keyof Commands> = {} extends Commands[K]["args"]
    ? [args?: Commands[K]["args"]]
    : [args: Commands[K]["args"]];

  interface RampartsError extends Error {
    name: "RampartsError";
    code: ErrorCode;
    data?: unknown;
  }

  interface RampartsErrorConstructor {
    new (code: ErrorCode, message: string, data?: unknown): RampartsError;
    readonly prototype: RampartsError;
  }

  interface Events {
    /** Python -> page events: their names are not declared, so any name. */
    on(name: string, fn: (payload: unknown) => void): () => void;
    /** Page -> Python: the names in [tool.ramparts.events] from_ui. */
    emit(name: UiEvent, payload?: unknown): Promise<void>;
  }
"""


def _second_instance_block(config: AppConfig, window: str | None) -> str:
    """The typed ``ramparts:second-instance`` listener, for a window granted the event
    (any window, when ``window`` is ``None``); merged into ``Events`` ahead of ``on``."""
    single = config.single_instance
    granted = single is not None and (window in single.windows if window else single.windows)
    if not granted:
        return ""
    return (
        "  interface Events {\n"
        "    /** A second start of the app ([tool.ramparts.single_instance] windows). */\n"
        '    on(name: "ramparts:second-instance", fn: (payload: '
        "{ readonly args: string[]; readonly cwd: string }) => void): () => void;\n"
        "  }\n\n"
    )


#: The payload of each window event a page may be granted (``ramparts:window-<kind>``).
_WINDOW_EVENT_FIELDS = {
    "resized": "readonly width: number; readonly height: number; ",
    "moved": "readonly x: number; readonly y: number; ",
    "focused": "readonly focused: boolean; ",
    "close-requested": "",
}


def _window_events_block(config: AppConfig, window: str | None) -> str:
    """The typed ``ramparts:window-<kind>`` listeners the ``window`` capability's
    ``events`` grant, for a window with that capability (any, when ``window`` is
    ``None``); merged into ``Events`` ahead of ``on``."""
    windows = [config.window_named(window)] if window else config.windows
    if not any(w is not None and "window" in w.capabilities for w in windows):
        return ""
    lines = [
        f'    on(name: "ramparts:window-{kind}", fn: (payload: {{ readonly window: string; '
        f"{_WINDOW_EVENT_FIELDS[kind]}}}) => void): () => void;\n"
        for kind in _WINDOW_EVENT_FIELDS
        if kind in page_events(config)
    ]
    if not lines:
        return ""
    return (
        "  interface Events {\n    /** Its own window's events (window.events). */\n"
        + "".join(lines)
        + "  }\n\n"
    )


def _menu_block(config: AppConfig, window: str | None) -> str:
    """The typed ``ramparts:menu`` listener, for the items the window's ``menu_events``
    grant (any window's, when ``window`` is ``None``); merged into ``Events``."""
    windows = [config.window_named(window)] if window else config.windows
    ids = sorted({i for w in windows if w is not None for i in w.menu_events})
    if not ids:
        return ""
    names = " | ".join(json.dumps(i) for i in ids)
    return (
        "  interface Events {\n    /** A menu item chosen (the window's menu_events). */\n"
        f'    on(name: "ramparts:menu", fn: (payload: {{ readonly id: {names}; '
        'readonly window: string; readonly menu: "app" | "context" }) => void): '
        "() => void;\n  }\n\n"
    )


def app_declarations(config: AppConfig, registry: Registry, window: str | None = None) -> str:
    """The ``.d.ts`` text for the app's ``window.ramparts``.

    :param window: one window's label: only what that window may call. ``None``: what
        any window may call (each command's comment names its windows).
    :raises KeyError: no window has that label.
    """
    events = config.ui_events if any(w.app_commands for w in config.windows) else frozenset()
    if window is not None:
        spec = config.window_named(window)
        if spec is None:
            raise KeyError(window)
        registry = registry.for_window(spec.capabilities, spec.app_commands)
        events = registry.ui_events
    writer = TypeWriter()
    commands = _commands_block(config, registry, writer)
    codes = " | ".join(json.dumps(c) for c in error_codes())
    ui_events = " | ".join(json.dumps(e) for e in sorted(events)) or "never"
    scope = f"window {window!r}" if window else "all windows"
    return (
        f"// window.ramparts of {config.name} {config.version} ({scope}).\n"
        "// Generated by `ramparts types` from the app's commands and config: do not edit;\n"
        "// generate it again after changing either.\n\n"
        "declare namespace Ramparts {\n"
        f"{commands}\n"
        + "".join(i + "\n" for i in writer.interfaces)
        + f"  type ErrorCode = {codes};\n\n"
        f"  type UiEvent = {ui_events};\n\n"
        f"{_FIXED}\n"
        f"{_second_instance_block(config, window)}"
        f"{_window_events_block(config, window)}"
        f"{_menu_block(config, window)}"
        "  interface Api {\n"
        "    invoke<K extends keyof Commands>(name: K, ...args: ArgsOf<K>): "
        'Promise<Commands[K]["result"]>;\n'
        "    readonly events: Events;\n"
        "    readonly Error: RampartsErrorConstructor;\n"
        "    stats(): { readonly pending: number; readonly queued: number };\n"
        f"{_namespaces_block(registry)}"
        "  }\n"
        "}\n\n"
        "declare var ramparts: Ramparts.Api;\n"
    )
