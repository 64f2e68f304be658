"""Strict argument validation from type hints.

Internal: authors write type hints on ``@command`` functions, never call this.

Arguments come from an untrusted page, so nothing is coerced: ``"1"`` is not an ``int``,
``True`` is not an ``int``, ``1`` is accepted where a ``float`` is expected (JSON has one
number type). Supported hints: ``str int float bool bytes None Any``, ``list[T]``,
``tuple[T, ...]``, ``dict[str, T]``, unions (``T | None``), ``Literal[...]``,
``Annotated[T, *checks]`` (each check a callable that raises ``InvalidArgs`` or returns
the value; ``ValueError``/``TypeError``, as attrs validators raise, also count as a
refusal), ``TypedDict`` classes and attrs classes (from a JSON object; unknown keys
refused).
"""

from __future__ import annotations

import collections.abc
import logging
import math
import types
import typing
from collections.abc import Callable
from typing import Any

import attrs

from ramparts.errors import InvalidArgs

__all__ = ["Validator", "compile_hint", "mentions_bytes"]

Validator = Callable[[Any, str], Any]
"""Checks ``value`` found at ``where`` (e.g. ``args.items[2]``) and returns the value."""

_MAX_DEPTH = 64

log = logging.getLogger("ramparts.bridge")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _fail(where: str, expected: str, value: Any) -> typing.NoReturn:
    raise InvalidArgs(
        f"{where}: expected {expected}, got {_type_name(value)}",
        data={"path": where, "expected": expected},
    )


def _refused_by_check(where: str, check: Any, error: Exception) -> InvalidArgs:
    """A value refused by an app check with ``ValueError``/``TypeError`` (the way attrs
    validators and plain checks say "bad value"): ``invalid_args``, not a lost call.

    The check's own message stays in the log: it may describe app internals.
    """
    name = getattr(check, "__qualname__", None) or type(check).__name__
    log.info("%s: refused by %s: %s: %s", where, name, type(error).__name__, error)
    return InvalidArgs(
        f"{where}: refused by the check {name} ({type(error).__name__})", data={"path": where}
    )


def _describe(hint: Any) -> str:
    if hint is type(None):
        return "null"
    if isinstance(hint, type):
        return {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}.get(
            hint.__name__, hint.__name__
        )
    return str(hint).replace("typing.", "")


def compile_hint(hint: Any) -> Validator:
    """Turn a type hint into a validator function (done once, when a command is defined)."""
    if hint is Any or hint is object:
        return _accept
    for scalar, check in _SCALARS:
        if hint is scalar:  # by identity: an Annotated hint's metadata need not hash
            return check
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Annotated:
        return _compile_annotated(args)
    if origin is typing.Literal:
        return _compile_literal(args)
    if origin in (typing.Union, types.UnionType):
        return _compile_union(args)
    if hint is tuple:
        origin, args = tuple, (Any, Ellipsis)
    if origin in (list, collections.abc.Sequence) or hint is list:
        return _compile_list(args)
    if origin is tuple:
        return _compile_tuple(args)
    if origin is dict or hint is dict:
        return _compile_dict(args)
    if isinstance(hint, type) and attrs.has(hint):
        return _compile_attrs(hint)
    if typing.is_typeddict(hint):
        return _compile_typeddict(hint)
    raise TypeError(f"unsupported type hint in a command signature: {hint!r}")


def _accept(value: Any, where: str) -> Any:
    return value


def _check_none(value: Any, where: str) -> None:
    if value is not None:
        _fail(where, "null", value)


def _check_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        _fail(where, "boolean", value)
    return value


def _check_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(where, "integer", value)
    return value


def _check_float(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(where, "number", value)
    try:
        number = float(value)  # an int of ~310+ digits has no float: OverflowError
    except OverflowError:
        raise InvalidArgs(
            f"{where}: number too large (beyond the range of a float)",
            data={"path": where, "expected": "finite number"},
        ) from None
    if not math.isfinite(number):
        _fail(where, "finite number", value)
    return number


def _check_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        _fail(where, "string", value)
    return value


def _check_bytes(value: Any, where: str) -> bytes:
    if isinstance(value, memoryview):
        return value.tobytes()
    if not isinstance(value, (bytes, bytearray)):
        _fail(where, "bytes (Uint8Array or ArrayBuffer)", value)
    return bytes(value)


_SCALARS: tuple[tuple[Any, Validator], ...] = (
    (None, _check_none),
    (type(None), _check_none),
    (bool, _check_bool),
    (int, _check_int),
    (float, _check_float),
    (str, _check_str),
    (bytes, _check_bytes),
)


def _compile_annotated(args: tuple[Any, ...]) -> Validator:
    inner = compile_hint(args[0])
    checks = args[1:]

    def check_annotated(value: Any, where: str) -> Any:
        value = inner(value, where)
        for check in checks:
            if callable(check):
                try:
                    result = check(value, where)
                except (ValueError, TypeError, OverflowError) as e:
                    raise _refused_by_check(where, check, e) from None
                if result is not None:
                    value = result
        return value

    return check_annotated


def _compile_literal(allowed: tuple[Any, ...]) -> Validator:
    def check_literal(value: Any, where: str) -> Any:
        # bool is an int: compare type as well as value so True never matches 1.
        for option in allowed:
            if type(option) is type(value) and option == value:
                return value
        _fail(where, "one of " + ", ".join(repr(a) for a in allowed), value)

    return check_literal


def _compile_union(args: tuple[Any, ...]) -> Validator:
    options = [compile_hint(a) for a in args]
    expected = " or ".join(_describe(a) for a in args)

    def check_union(value: Any, where: str) -> Any:
        for option in options:
            try:
                return option(value, where)
            except InvalidArgs:
                continue
        _fail(where, expected, value)

    return check_union


def _compile_list(args: tuple[Any, ...]) -> Validator:
    item = compile_hint(args[0]) if args else _accept

    def check_list(value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            _fail(where, "array", value)
        return [item(v, f"{where}[{i}]") for i, v in enumerate(value)]

    return check_list


def _compile_tuple(args: tuple[Any, ...]) -> Validator:
    if len(args) == 2 and args[1] is Ellipsis:
        each = compile_hint(args[0])

        def check_var_tuple(value: Any, where: str) -> tuple[Any, ...]:
            if not isinstance(value, list):
                _fail(where, "array", value)
            return tuple(each(v, f"{where}[{i}]") for i, v in enumerate(value))

        return check_var_tuple
    fixed = [compile_hint(a) for a in args]

    def check_tuple(value: Any, where: str) -> tuple[Any, ...]:
        if not isinstance(value, list) or len(value) != len(fixed):
            _fail(where, f"array of {len(fixed)} items", value)
        return tuple(
            f(v, f"{where}[{i}]") for i, (f, v) in enumerate(zip(fixed, value, strict=True))
        )

    return check_tuple


def _compile_dict(args: tuple[Any, ...]) -> Validator:
    if args and args[0] is not str:
        raise TypeError(f"dict keys must be str in a command signature, not {args[0]!r}")
    val = compile_hint(args[1]) if args else _accept

    def check_dict(value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            _fail(where, "object", value)
        return {k: val(v, f"{where}.{k}") for k, v in value.items()}

    return check_dict


def _compile_attrs(cls: type) -> Validator:
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name: (compile_hint(hints[f.name]), f) for f in attrs.fields(cls)}

    def check_attrs(value: Any, where: str) -> Any:
        if not isinstance(value, dict):
            _fail(where, f"object ({cls.__name__})", value)
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise InvalidArgs(f"{where}: unknown field {unknown[0]!r}", data={"path": where})
        kwargs = {}
        for name, (check, field) in fields.items():
            if name in value:
                kwargs[name] = check(value[name], f"{where}.{name}")
            elif field.default is attrs.NOTHING:
                raise InvalidArgs(f"{where}.{name}: missing", data={"path": f"{where}.{name}"})
        try:
            return cls(**kwargs)
        except (ValueError, TypeError, OverflowError) as e:  # what attrs validators raise
            raise _refused_by_check(where, cls, e) from None

    return check_attrs


def _compile_typeddict(cls: Any) -> Validator:
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {k: compile_hint(h) for k, h in hints.items()}
    required = frozenset(cls.__required_keys__)

    def check_typeddict(value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            _fail(where, f"object ({cls.__name__})", value)
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise InvalidArgs(f"{where}: unknown field {unknown[0]!r}", data={"path": where})
        missing = sorted(required - set(value))
        if missing:
            path = f"{where}.{missing[0]}"
            raise InvalidArgs(f"{path}: missing", data={"path": path})
        return {k: fields[k](v, f"{where}.{k}") for k, v in value.items()}

    return check_typeddict


def mentions_bytes(hint: Any, _depth: int = 0) -> bool:
    """True when ``bytes`` appears anywhere in ``hint`` (decides the binary carrier)."""
    if _depth > _MAX_DEPTH:
        return False
    if hint is bytes:
        return True
    if (isinstance(hint, type) and attrs.has(hint)) or typing.is_typeddict(hint):
        hints = typing.get_type_hints(hint)
        return any(mentions_bytes(h, _depth + 1) for h in hints.values())
    return any(mentions_bytes(a, _depth + 1) for a in typing.get_args(hint))
