"""The store commands: get, set, delete, keys and clear, on a store the config names.

A change that reaches the disk is announced with the ``store:changed`` event to every
open page granted ``store`` (the caller's included):
``{"store": name, "key": key, "action": "set" | "delete"}``, or ``key: null`` and
``action: "clear"``. Values are not in the event: a page reads them with ``get``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from ramparts import CallContext, InvalidArgs, OutOfScope, TooLarge, command

from .config import StoreState
from .files import Store, encode

__all__ = ["COMMANDS", "EVENT"]

#: The event every change sends.
EVENT = "store:changed"
_MAX_KEY_BYTES = 1024


def _store(ctx: CallContext[StoreState], name: str) -> Store:
    store = ctx.state.stores.get(name)
    if store is None:
        known = ", ".join(sorted(ctx.state.stores)) or "none"
        raise OutOfScope(f"store: no store is named {name!r} (this app's: {known})")
    return store


def _key(key: str) -> str:
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidArgs("key: holds a lone surrogate", data={"path": "key"}) from None
    if not 0 < size <= _MAX_KEY_BYTES:
        raise InvalidArgs(f"key: 1 to {_MAX_KEY_BYTES} bytes of text", data={"path": "key"})
    return key


def _announce(
    ctx: CallContext[StoreState],
    store: str,
    key: str | None,
    action: Literal["set", "delete", "clear"],
) -> None:
    ctx.state.sessions.emit(EVENT, {"store": store, "key": key, "action": action})


@command
def get(ctx: CallContext[StoreState], store: str, key: str) -> Any:
    """The value under ``key``, or ``null`` when there is none."""
    return _store(ctx, store).read().get(_key(key))


@command(name="set")
def set_(ctx: CallContext[StoreState], store: str, key: str, value: Any) -> None:
    """Store ``value`` (any JSON value) under ``key``."""
    target, key = _store(ctx, store), _key(key)
    try:
        size = len(encode(value))
    except (ValueError, UnicodeEncodeError):
        raise InvalidArgs("value: not storable as JSON text", data={"path": "value"}) from None
    limit = ctx.state.max_value_bytes
    if size > limit:
        raise TooLarge(f"value: {size} bytes as JSON; this app stores at most {limit} per value")

    def put(data: dict[str, Any]) -> bool:
        data.pop(key, None)  # a rewritten key moves last, as in a JS object
        data[key] = value
        return True

    target.update(put, ctx.state.max_store_bytes)
    _announce(ctx, store, key, "set")


@command
def delete(ctx: CallContext[StoreState], store: str, key: str) -> bool:
    """Remove ``key``; ``true`` if it was there."""
    target, key = _store(ctx, store), _key(key)
    if not target.update(lambda data: data.pop(key, _ABSENT) is not _ABSENT, None):
        return False
    _announce(ctx, store, key, "delete")
    return True


@command
def keys(ctx: CallContext[StoreState], store: str) -> list[str]:
    """The store's keys, oldest write first."""
    return list(_store(ctx, store).read())


@command
def clear(ctx: CallContext[StoreState], store: str) -> None:
    """Remove every key of the store."""

    def empty(data: dict[str, Any]) -> bool:
        had = bool(data)
        data.clear()
        return had

    if _store(ctx, store).update(empty, None):
        _announce(ctx, store, None, "clear")


_ABSENT = object()
COMMANDS: list[Callable[..., Any]] = [get, set_, delete, keys, clear]
