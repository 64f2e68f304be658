"""``[tool.ramparts.capabilities.store]``: the store names and the size limits."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ramparts import ConfigContext
from ramparts.toolkit import base_dirs

from .files import Store

if TYPE_CHECKING:
    from ramparts import WindowSession

__all__ = [
    "DEFAULT_MAX_STORE_BYTES",
    "DEFAULT_MAX_VALUE_BYTES",
    "FOLDER",
    "Sessions",
    "StoreState",
    "configure",
]

DEFAULT_MAX_VALUE_BYTES = 256 * 1024
DEFAULT_MAX_STORE_BYTES = 1024 * 1024
#: Where the stores live, under ``$APPDATA``: a dotted folder, which no fs scope pattern
#: such as ``$APPDATA/**`` reaches (``*`` never matches a leading dot).
FOLDER = ".store"
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_NAME_RULE = "a name of lower-case letters, digits, _ and -, starting with a letter (max 32)"


class Sessions:
    """The live page sessions of the windows granted ``store``: change events go there."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[WindowSession] = set()

    def add(self, session: WindowSession) -> None:
        with self._lock:
            self._live.add(session)

    def discard(self, session: WindowSession) -> None:
        with self._lock:
            self._live.discard(session)

    def emit(self, event: str, payload: Any) -> None:
        with self._lock:
            live = list(self._live)
        for session in live:
            session.emit(event, payload)


@attrs.frozen
class StoreState:
    stores: Mapping[str, Store]
    max_value_bytes: int
    max_store_bytes: int
    sessions: Sessions = attrs.field(factory=Sessions, eq=False)


def configure(table: Mapping[str, Any], ctx: ConfigContext) -> StoreState:
    ctx.check_keys(table, ("stores", "max_value_bytes", "max_store_bytes"))
    # No store by default: `ramparts add store` declares the capability before any store.
    names = ctx.require({"stores": []} | dict(table), "stores", list, "a list of store names")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not _NAME.match(name):
            raise ctx.error(f"stores[{i}]", name, _NAME_RULE)
        if name in names[:i]:
            raise ctx.error(f"stores[{i}]", name, "a name not listed before")
    max_store = ctx.whole_number(table, "max_store_bytes", DEFAULT_MAX_STORE_BYTES, unit="bytes")
    max_value = ctx.whole_number(
        table, "max_value_bytes", min(DEFAULT_MAX_VALUE_BYTES, max_store), unit="bytes"
    )
    if max_value > max_store:
        raise ctx.error("max_value_bytes", max_value, f"at most max_store_bytes ({max_store})")
    folder = base_dirs(ctx.identifier, ctx.app_dir)["APPDATA"] / FOLDER
    return StoreState({n: Store(n, folder) for n in names}, max_value, max_store)
