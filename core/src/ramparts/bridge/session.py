"""Routes and window sessions: what a page can call, under which random names.

A :class:`Registry` is built once per app from the config: only allowed commands get a
:class:`Route`. A :class:`WindowSession` lives as long as one document in one window
(a reload is a new session): it owns the session key, the random handle of every route
("functional ASLR"), the replay window, the way back to the page, and
(:class:`SessionResources`) everything that must not outlive the page.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import logging
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal

import attrs

from ramparts.bridge.protocol import ReplayWindow, Unserializable, encode_channel_reply
from ramparts.commands import Command
from ramparts.errors import SessionEnded
from ramparts.toolkit.scope import Grants

# SessionEnded lives with the other errors; it stays importable from here.
__all__ = ["Held", "Registry", "Route", "SessionEnded", "SessionResources", "WindowSession"]

log = logging.getLogger("ramparts.bridge")

#: Live handles per command in ``per-call`` mode: how many calls of one command can be
#: in flight at once before the page queues them.
PER_CALL_POOL = 16
_HANDLE_BYTES = 16
#: Seconds a session's end waits for resources being opened (see ``SessionResources``).
OPENING_WAIT = 5.0


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
        """The routes one window may call: its capabilities, and maybe the app's commands.

        Page events run the app's ``@on`` handlers, which are app code like its commands:
        a window without ``app_commands`` may send none (they are undeclared for it).
        """
        caps = set(capabilities)
        routes = {
            name: r
            for name, r in self.routes.items()
            if (r.capability is None and app_commands) or r.capability in caps
        }
        if not app_commands:
            return Registry(routes)
        return Registry(routes, self.ui_events, self.event_handlers)


class Held:
    """One resource tied to a session by :meth:`SessionResources.hold`."""

    __slots__ = ("_key", "_owner")

    def __init__(self, owner: SessionResources, key: int) -> None:
        self._owner, self._key = owner, key

    def drop(self) -> None:
        """The resource is gone by other means: do not release it when the session ends."""
        self._owner._drop(self._key)


class SessionResources:
    """What one session owns that must not outlive it: child processes, open dialogs,
    queued and running calls.

    :meth:`hold` ties a release function to the session; :meth:`end` (run by
    :meth:`WindowSession.close`) runs each one once, newest first. A resource is opened
    inside :meth:`opening`, which the end waits for, so no resource can be made after
    the session ended or be missed by its end::

        with session.resources.opening():      # SessionEnded if the page is gone
            proc = start_child()
            held = session.resources.hold(proc.terminate)
        ...
        held.drop()                            # it ended by itself: nothing to release

    :ivar ended: set as soon as the session starts ending: long work on behalf of the
        page checks it (``ctx.ended``) and gives up.
    """

    def __init__(self, opening_wait: float = OPENING_WAIT) -> None:
        self.ended = threading.Event()
        self._cv = threading.Condition()
        self._held: dict[int, Callable[[], object]] = {}
        self._keys = itertools.count()
        self._opening: Counter[int] = Counter()  # threads inside opening(), by ident
        self._released = False
        self._wait = opening_wait

    @contextlib.contextmanager
    def opening(self) -> Iterator[None]:
        """A block that makes a resource and holds it; refused once the session ends.

        The end waits (up to ``opening_wait`` seconds) for blocks already inside, so
        their :meth:`hold` still succeeds and the resource is released with the rest.
        """
        me = threading.get_ident()
        with self._cv:
            if self.ended.is_set():
                raise SessionEnded("this page's session has ended")
            self._opening[me] += 1
        try:
            yield
        finally:
            with self._cv:
                self._opening[me] -= 1
                if not self._opening[me]:
                    del self._opening[me]
                self._cv.notify_all()

    def hold(self, release: Callable[[], object]) -> Held:
        """Run ``release`` when the session ends (unless :meth:`Held.drop` comes first).

        Once the session has ended (outside :meth:`opening`: once it begins to end),
        ``release`` runs at once and :class:`SessionEnded` is raised, so whatever the
        caller made is never left behind.
        """
        with self._cv:
            inside = threading.get_ident() in self._opening
            if not self._released and (inside or not self.ended.is_set()):
                key = next(self._keys)
                self._held[key] = release
                return Held(self, key)
        _run_release(release)
        raise SessionEnded("this page's session has ended")

    def _drop(self, key: int) -> None:
        with self._cv:
            self._held.pop(key, None)

    def __len__(self) -> int:
        """Resources held now."""
        with self._cv:
            return len(self._held)

    def end(self) -> None:
        """Refuse new resources, wait for those being opened, release all (once).

        A thread that ends the session from inside its own :meth:`opening` (a resource's
        maker that fails in a way that closes the page) is not waited for.
        """
        me = threading.get_ident()
        with self._cv:
            if self.ended.is_set():
                return
            self.ended.set()
            if not self._cv.wait_for(lambda: not set(self._opening) - {me}, self._wait):
                log.error("a session ended while resources were still being opened")
            self._released = True
            releases = list(self._held.values())
            self._held.clear()
        for release in reversed(releases):
            _run_release(release)


def _run_release(release: Callable[[], object]) -> None:
    try:
        release()
    except Exception:  # one broken release must not keep the others from running
        log.exception("releasing a session's resource failed")


class WindowSession:
    """The bridge state of one document in one window.

    :ivar window: the window's label.
    :ivar key: the 32-byte session key (random per session, never reused).
    :ivar stats: counters of rejected messages by reason (for logs and tests).
    :ivar grants: paths added to this session's scopes at run time (see
        :class:`ramparts.toolkit.scope.Grants`); they die with the session.
    :ivar resources: what the session owns and releases when it ends
        (:class:`SessionResources`).
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
        #: The :class:`~ramparts.bridge.host.WindowHost` of this session's window, if any.
        self.host = host
        self.id = secrets.token_hex(8)
        self.key = secrets.token_bytes(32)
        self.registry = registry
        self.handle_mode = handle_mode
        self._replay = ReplayWindow()
        self.stats: Counter[str] = Counter()
        self.closed = False
        self.grants = Grants()
        self.resources = SessionResources()
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

    @property
    def ended(self) -> threading.Event:
        """Set when the session ends: work on behalf of this page should stop."""
        return self.resources.ended

    def close(self) -> None:
        """End the session: no more messages or replies, and release all it holds."""
        self.closed = True
        with self._lock:
            self._handles.clear()
        self.resources.end()
