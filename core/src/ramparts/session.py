"""Routes and window sessions: what a page can call, under which random names.

A :class:`Registry` is built once per app from the config: only allowed commands get a
:class:`Route`. A :class:`WindowSession` lives as long as one document in one window
(a reload is a new session): it owns the session key, the random handle of every route
("functional ASLR"), the replay window, and the way back to the page.
"""

from __future__ import annotations

import base64
import logging
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import attrs

from .commands import Command
from .protocol import ReplayWindow, Unserializable, encode_channel_reply
from .scope import Grants

__all__ = ["Registry", "Route", "WindowSession"]

log = logging.getLogger("ramparts.bridge")

#: Live handles per command in ``per-call`` mode: how many calls of one command can be
#: in flight at once before the page queues them.
PER_CALL_POOL = 16
_HANDLE_BYTES = 16


@attrs.frozen
class Route:
    """One callable command: ``name`` is what JS uses (``add`` or ``fs.read_text``)."""

    name: str
    capability: str | None
    command: Command
    state: Any


@attrs.define
class Registry:
    """Every route the app's config allows, plus the page events it accepts."""

    routes: dict[str, Route] = attrs.field(factory=dict)
    ui_events: frozenset[str] = frozenset()
    event_handlers: Mapping[str, tuple[Callable[..., Any], ...]] = attrs.field(factory=dict)

    def add(self, route: Route) -> None:
        if route.name in self.routes:
            raise ValueError(f"two commands are named {route.name!r}")
        self.routes[route.name] = route

    def for_window(self, capabilities: Iterable[str], app_commands: bool) -> Registry:
        """The routes one window may call: its capabilities, and maybe the app's commands."""
        caps = set(capabilities)
        routes = {
            name: r
            for name, r in self.routes.items()
            if (r.capability is None and app_commands) or r.capability in caps
        }
        return Registry(routes, self.ui_events, self.event_handlers)


class WindowSession:
    """The bridge state of one document in one window.

    :ivar window: the window's label.
    :ivar key: the 32-byte session key (random per session, never reused).
    :ivar stats: counters of rejected messages by reason (for logs and tests).
    :ivar grants: paths added to this session's scopes at run time (see
        :class:`ramparts.scope.Grants`); they die with the session.
    """

    def __init__(
        self,
        window: str,
        registry: Registry,
        handle_mode: Literal["per-session", "per-call"],
        send: Callable[[str], None],
        host: Any = None,
    ) -> None:
        self.window = window
        #: The :class:`~ramparts.host.WindowHost` of this session's window, if any.
        self.host = host
        self.id = secrets.token_hex(8)
        self.key = secrets.token_bytes(32)
        self.registry = registry
        self.handle_mode = handle_mode
        self._replay = ReplayWindow()
        self.stats: Counter[str] = Counter()
        self.closed = False
        self.grants = Grants()
        self._send = send
        self._lock = threading.Lock()
        self._handles: dict[str, Route] = {}
        self._entropy = bytearray()
        pool = PER_CALL_POOL if handle_mode == "per-call" else 1
        self.initial_handles: dict[str, list[str]] = {
            name: [self._new_handle(route) for _ in range(pool)]
            for name, route in registry.routes.items()
        }

    def _new_handle(self, route: Route) -> str:
        # 128 random bits, as secrets.token_urlsafe(16), but taken from a buffer filled by
        # one os.urandom call per 256 handles: a getrandom() syscall per call cost ~10 us.
        if not self._entropy:
            self._entropy = bytearray(secrets.token_bytes(_HANDLE_BYTES * 256))
        raw = bytes(self._entropy[-_HANDLE_BYTES:])
        del self._entropy[-_HANDLE_BYTES:]
        handle = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        self._handles[handle] = route
        return handle

    def take(self, handle: str) -> tuple[Route | None, str | None]:
        """The route behind ``handle`` and, in per-call mode, the handle that replaces it.

        A per-call handle dies here, before the command runs, so a replay of the same
        handle finds nothing even while the first call is still running.
        """
        with self._lock:
            if self.handle_mode == "per-session":
                return self._handles.get(handle), None
            route = self._handles.pop(handle, None)
            if route is None:
                return None, None
            return route, self._new_handle(route)

    def accept_seq(self, seq: int) -> bool:
        """Accept each sequence number once (messages are verified on several threads)."""
        with self._lock:
            return self._replay.accept(seq)

    @property
    def live_handles(self) -> int:
        return len(self._handles)

    def emit(self, event: str, payload: Any = None) -> None:
        """Send an event to this session's page. Dropped silently after the session ended."""
        if self.closed:
            return
        try:
            text = encode_channel_reply({"ev": event, "p": payload})
        except Unserializable as e:
            raise TypeError(f"event {event!r}: payload holds {e}") from None
        self._send(text)

    def send_reply(self, text: str) -> None:
        if not self.closed:
            self._send(text)

    def bootstrap_data(self, binary_names: Iterable[str] | None = None) -> dict[str, Any]:
        """What the page's bootstrap script is generated from."""
        binary = (
            set(binary_names)
            if binary_names is not None
            else {n for n, r in self.registry.routes.items() if r.command.binary}
        )
        return {
            "key": self.key.hex(),
            "handles": self.initial_handles,
            "binary": sorted(binary),
            "perCall": self.handle_mode == "per-call",
            "uiEvents": sorted(self.registry.ui_events),
        }

    def close(self) -> None:
        self.closed = True
        with self._lock:
            self._handles.clear()
