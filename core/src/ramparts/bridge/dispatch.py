"""The dispatcher: from a verified message to a command's result, and back.

Order of checks for every message: size and framing, MAC, sequence number (once),
handle, arguments against the signature, then the command runs on a worker thread (or
the event loop, for ``async def``) under a timeout. Whatever goes wrong, the page gets a
``{code, message}`` error, never a traceback; forged, replayed and malformed messages
get nothing at all beyond ``rejected`` on the binary carrier.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from ramparts.bridge.protocol import (
    Message,
    ProtocolError,
    Unserializable,
    decode_binary,
    decode_channel,
    encode_binary_reply,
    encode_channel_reply,
    page_deadline_ms,
)
from ramparts.bridge.session import Held, Route, SessionEnded, WindowSession
from ramparts.bridge.watchdog import LoopMonitor, Watchdog
from ramparts.bridge.workers import Lanes, SessionExecutor, Workers, current_session
from ramparts.commands import CallContext
from ramparts.errors import CommandError, CommandFailed, CommandTimeout, NotAllowed

__all__ = [
    "BinaryReply",
    "Dispatcher",
]

log = logging.getLogger("ramparts.bridge")

BinaryReply = Callable[[int, list[bytes]], None]
"""``reply(http_status, chunks)`` for the binary carrier."""

_GONE = "the page that made this call is gone"


class Dispatcher:
    """Runs commands for every window session of one app.

    :param command_timeout: default seconds before a call answers ``timeout``.
    :param workers: shared threads that check messages and run synchronous commands
        (a session that holds none of them while all are busy gets an extra thread: see
        :class:`~ramparts.bridge.workers.Workers`).
    :param session_workers: how many of them one session's commands may hold at once
        (default: half).
    :param loop_stall: seconds the event loop of ``async def`` commands may run nothing,
        while such commands are in flight, before a warning names them.
    :param async_workers: shared threads for the blocking work of ``async def`` commands
        (``asyncio.to_thread``, ``run_in_executor(None, ...)``).
    :param async_share: how many of them one session's work may hold at once (default: a
        quarter).
    """

    def __init__(
        self,
        command_timeout: float,
        workers: int = 32,
        session_workers: int | None = None,
        loop_stall: float = 1.0,
        async_workers: int = 16,
        async_share: int | None = None,
    ) -> None:
        self.command_timeout = command_timeout
        self._pool = Workers(workers, "ramparts-cmd")
        self.session_workers = session_workers or max(1, workers // 2)
        self._lanes = Lanes(self.session_workers)
        self._executor = SessionExecutor(async_workers, async_share or max(1, async_workers // 4))
        self._loop = asyncio.new_event_loop()
        self._loop.set_default_executor(self._executor)
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="ramparts-loop", daemon=True
        )
        self._thread.start()
        self._watchdog = Watchdog()
        self._loop_monitor = LoopMonitor(self._loop, self._watchdog, loop_stall)
        self._idle = threading.Condition()
        self._queued = 0
        self.in_flight = 0
        #: ``on_call(window, name, outcome, milliseconds)`` after every call (tracing).
        self.on_call: Callable[[str, str, str, float], None] | None = None

    def close(self) -> None:
        self._watchdog.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._pool.shutdown()
        self._executor.shutdown(wait=False)

    # -- entry points (called on the GUI thread by the backend) ----------------------

    def channel_message(
        self, session: WindowSession, text: Any, refuse: CommandError | None = None
    ) -> None:
        """A channel-carrier message. ``refuse``: verify it, then answer with this error.

        Returns at once: verifying and running happen on a worker thread, so the GUI
        thread (which is also Chromium's UI thread) goes straight back to the webview.
        """
        self._submit(self._channel_work, session, text, refuse)

    def binary_message(
        self,
        session: WindowSession,
        body: bytes,
        reply: BinaryReply,
        refuse: CommandError | None = None,
    ) -> None:
        """A binary-carrier message; ``reply`` is called once, from any thread."""
        self._submit(self._binary_work, session, body, reply, refuse)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every received message has been handled and answered (tests)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._queued == 0 and self.in_flight == 0, timeout)

    def _submit(self, fn: Callable[..., None], session: WindowSession, *args: Any) -> None:
        with self._idle:
            self._queued += 1

        def work() -> None:
            try:
                fn(session, *args)
            except Exception:  # a bug guard: nothing a page sends may kill a worker
                log.exception("bridge: message handling failed")
            finally:
                with self._idle:
                    self._queued -= 1
                    self._idle.notify_all()

        self._pool.submit(session, work)

    def _channel_work(self, session: WindowSession, text: Any, refuse: CommandError | None) -> None:
        try:
            msg = self._verify(session, decode_channel, text)
        except ProtocolError:
            return
        self._route(session, msg, binary_reply=None, refuse=refuse)

    def _binary_work(
        self, session: WindowSession, body: bytes, reply: BinaryReply, refuse: CommandError | None
    ) -> None:
        try:
            msg = self._verify(session, decode_binary, body)
        except ProtocolError as e:
            reply(403, [b'{"rejected":"' + e.reason.encode() + b'"}'])
            return
        self._route(session, msg, binary_reply=reply, refuse=refuse)

    # -- internals ----------------------------------------------------------------

    def _verify(
        self, session: WindowSession, decode: Callable[[bytes, Any], Message], data: Any
    ) -> Message:
        try:
            if session.closed:
                raise ProtocolError("session-closed")
            msg = decode(session.key, data)
            if msg.event is not None and decode is decode_binary:
                raise ProtocolError("event-on-binary-carrier")  # no reply: use the channel
            if not session.accept_seq(msg.seq):
                raise ProtocolError("replayed")
            return msg
        except ProtocolError as e:
            session.stats[e.reason] += 1
            _log_rejection(session, e.reason)
            raise
        except Exception:  # the decoder must never take the app down
            session.stats["decoder-error"] += 1
            log.exception("bridge: decoder error")
            raise ProtocolError("decoder-error") from None

    def _route(
        self,
        session: WindowSession,
        msg: Message,
        binary_reply: BinaryReply | None,
        refuse: CommandError | None,
    ) -> None:
        if msg.event is not None:
            if refuse is not None:
                session.stats["refused-event"] += 1
            else:
                self._ui_event(session, msg)
            return
        assert msg.handle is not None and msg.callback is not None
        route, next_handle = session.take(msg.handle)
        answer = self._answerer(session, msg.callback, route, next_handle, binary_reply)
        if route is None:
            answer(error=NotAllowed("no such command here (unknown or expired handle)"))
            return
        if refuse is not None:
            answer(error=refuse)
            return
        kwargs = self._bind(session, route, msg, answer)
        if kwargs is not None:
            self._start(session, route, kwargs, answer)

    def _answerer(
        self,
        session: WindowSession,
        callback: str,
        route: Route | None,
        next_handle: str | None,
        binary_reply: BinaryReply | None,
    ) -> Callable[..., None]:
        """``answer(result=..., error=...)``: sends this call's reply (and traces it)."""
        started = time.perf_counter()

        def answer(result: Any = None, error: CommandError | None = None) -> None:
            if self.on_call is not None:
                name = route.name if route is not None else "<unknown handle>"
                outcome = "ok" if error is None else error.code
                self.on_call(session.window, name, outcome, (time.perf_counter() - started) * 1000)
            reply: dict[str, Any] = {"c": callback}
            if next_handle is not None:
                reply["n"] = next_handle
            if error is None:
                reply["ok"], reply["r"] = True, result
            else:
                reply["ok"], reply["e"] = False, error.to_wire()
            self._send(session, reply, binary_reply)

        return answer

    @staticmethod
    def _bind(
        session: WindowSession, route: Route, msg: Message, answer: Callable[..., None]
    ) -> dict[str, Any] | None:
        """The call's checked arguments, or None once it has been answered with why not."""
        try:
            return route.command.bind(msg.arguments())
        except CommandError as e:
            answer(error=e)
        except Exception:
            # A check that crashed (not one that refused): still answer, so the page's
            # call settles and a per-call handle comes back with the reply.
            log.exception(
                "bridge: checking the arguments of %s in window %r raised",
                route.name,
                session.window,
            )
            answer(
                error=CommandFailed(
                    f"checking the arguments of {route.name} failed (details are in the app's log)"
                )
            )
        return None

    def _start(
        self,
        session: WindowSession,
        route: Route,
        kwargs: dict[str, Any],
        answer: Callable[..., None],
    ) -> None:
        """Run the call on a worker thread or the event loop, counted in ``in_flight``."""
        with self._idle:
            self.in_flight += 1
        once = threading.Lock()  # the first of result and timeout answers; the other is dropped

        def finish(result: Any = None, error: CommandError | None = None) -> None:
            if once.acquire(blocking=False):
                try:
                    answer(result, error)
                finally:  # counted out even if sending failed, or wait_idle never returns
                    with self._idle:
                        self.in_flight -= 1
                        self._idle.notify_all()

        cmd = route.command
        timeout = cmd.timeout if cmd.timeout is not None else self.command_timeout
        args = self._call_args(session, route)
        if cmd.is_async:
            self._start_async(session, route, args, kwargs, timeout, finish, once.locked)
        else:
            self._start_sync(session, route, args, kwargs, timeout, finish)

    def _start_sync(
        self,
        session: WindowSession,
        route: Route,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float,
        finish: Callable[..., None],
    ) -> None:
        """Run a sync command in the session's lane; dropped if the session ends first.

        It runs on the worker that verified its message, or, when its session already
        holds all the workers it may, on the next one of them to free up. The watchdog
        answers "timeout" if it overruns; the thread runs on (Python cannot stop it, and
        the docs say so).
        """
        arrived = time.monotonic()
        deadline_ms = page_deadline_ms(timeout)

        def run() -> None:
            if session.closed:  # the page went away while this call waited its turn
                finish(error=SessionEnded(_GONE))
                return
            waited = time.monotonic() - arrived
            if deadline_ms is not None and waited * 1000 > deadline_ms:
                # The page has given up on it: answer (its next handle) and do not run.
                finish(error=CommandTimeout(f"{route.name} did not start within {waited:.3g} s"))
                return
            token = self._timeout_after(timeout, route.name, finish)
            try:
                result = _run_sync(route, args, kwargs)
            except CommandError as e:
                finish(error=e)
            else:
                finish(result=result)
            finally:
                if token is not None:
                    self._watchdog.cancel(token)

        # Dropped unrun, and answered, if the session ends while it waits in the lane.
        self._lanes.run(session, run, lambda: finish(error=SessionEnded(_GONE)))

    def _start_async(
        self,
        session: WindowSession,
        route: Route,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float,
        finish: Callable[..., None],
        answered: Callable[[], bool],
    ) -> None:
        """Run an ``async def`` command on the loop; the session's end cancels it."""
        # All async commands share one loop thread. Its wait_for cancels a coroutine
        # that overruns; the watchdog answers "timeout" on time even when a command
        # that blocks has stalled the loop (and the monitor logs the stall).
        token = self._timeout_after(timeout, route.name, finish)
        running = f"{route.name} (window {session.window!r})"
        self._loop_monitor.started(running)
        fut = asyncio.run_coroutine_threadsafe(
            self._run_async(session, route, args, kwargs, timeout, answered), self._loop
        )
        held: Held | None = None
        # The session's end cancels the task: its awaits raise CancelledError, and what
        # it queued on the loop's executor is dropped before it runs. (An ended session:
        # hold cancels it at once.)
        with contextlib.suppress(SessionEnded):
            held = session.resources.hold(fut.cancel)

        def done(f: concurrent.futures.Future[Any]) -> None:
            if held is not None:
                held.drop()
            if token is not None:
                self._watchdog.cancel(token)
            self._loop_monitor.ended(running)
            if f.cancelled():
                finish(error=SessionEnded(_GONE))
                return
            exc = f.exception()
            if exc is None:
                finish(result=f.result())
            elif isinstance(exc, CommandError):
                finish(error=exc)
            else:  # _run_async converts everything; this is a bug guard
                finish(error=CommandFailed(f"{route.name} failed"))

        fut.add_done_callback(done)

    def _timeout_after(self, timeout: float, name: str, finish: Callable[..., None]) -> int | None:
        """Have the watchdog thread answer ``timeout`` unless cancelled (None: no limit)."""
        if not math.isfinite(timeout):
            return None
        error = CommandTimeout(f"{name} did not finish within {timeout:g} s")
        return self._watchdog.after(timeout, lambda: finish(error=error))

    @staticmethod
    def _call_args(session: WindowSession, route: Route) -> tuple[Any, ...]:
        cmd = route.command
        if not cmd.wants_context:
            return ()
        return (CallContext(route.capability, cmd.name, session.window, route.state, session),)

    async def _run_async(
        self,
        session: WindowSession,
        route: Route,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float,
        answered: Callable[[], bool],
    ) -> Any:
        if answered():  # the watchdog answered while a stalled loop kept this from starting
            return None
        if session.closed:
            raise SessionEnded(_GONE)
        current_session.set(session)  # this task's own context: its blocking work is this session's
        limit = timeout if math.isfinite(timeout) else None  # inf: waits for a person

        async def guarded() -> Any:
            try:
                return await route.command.func(*args, **kwargs)
            except TimeoutError as e:  # the command's own, not our deadline
                raise _OwnTimeout from e
            except SystemExit as e:  # asyncio re-raises it out of the loop, ending its thread
                raise _Exited from e

        try:
            return await asyncio.wait_for(guarded(), limit)
        except CommandError:
            raise
        except TimeoutError:
            raise CommandTimeout(f"{route.name} did not finish within {timeout:g} s") from None
        except Exception:
            log.exception("command %s raised", route.name)
            raise CommandFailed(f"{route.name} failed (details are in the app's log)") from None

    def _send(
        self, session: WindowSession, reply: dict[str, Any], binary_reply: BinaryReply | None
    ) -> None:
        def encode(reply: dict[str, Any]) -> Any:
            return (
                encode_binary_reply(reply)
                if binary_reply is not None
                else encode_channel_reply(reply)
            )

        why: str | None = None
        try:
            encoded = encode(reply)
        except Unserializable as e:
            log.error("a command's result could not be sent: %s", e)
            why = f"the result could not be sent: {e}"
        except Exception:  # a bug guard: the page must get an answer, not wait for its deadline
            log.exception("bridge: encoding a reply failed")
            why = "the result could not be sent (details are in the app's log)"
        if why is not None:
            failed = {k: v for k, v in reply.items() if k in ("c", "n")}
            failed.update(ok=False, e=CommandFailed(why).to_wire())
            encoded = encode(failed)
        if binary_reply is not None:
            binary_reply(200, encoded)
        else:
            session.send_reply(encoded)

    def _ui_event(self, session: WindowSession, msg: Message) -> None:
        assert msg.event is not None
        reg = session.registry
        if msg.event not in reg.ui_events:
            session.stats["undeclared-event"] += 1
            _log_rejection(session, "undeclared-event")
            return
        # Through the session's lane, like synchronous commands: a page whose handlers
        # block holds at most ``session_workers`` threads with them, and handlers still
        # waiting when the session ends never run.
        for handler in reg.event_handlers.get(msg.event, ()):
            self._lanes.run(
                session,
                functools.partial(_safe_event, handler, session, msg.event, msg.payload),
                _nothing,
            )


def _nothing() -> None:
    """Dropping a queued event handler: there is nobody to answer."""


class _Exited(Exception):
    """An async command raised SystemExit: report it as a failure, keep the loop running."""


class _OwnTimeout(Exception):
    """A command raised TimeoutError itself: report it as a failure, not our timeout."""


def _run_sync(route: Route, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        return route.command.func(*args, **kwargs)
    except CommandError:
        raise
    except BaseException:  # SystemExit too: on a worker thread it would only end the thread
        log.exception("command %s raised", route.name)
        raise CommandFailed(f"{route.name} failed (details are in the app's log)") from None


def _log_rejection(session: WindowSession, reason: str) -> None:
    """Log the 1st, 2nd, 4th, 8th... rejection of each kind: a hostile page cannot flood
    the log, and every kind of rejection still shows up (counts are in session.stats)."""
    n = session.stats[reason]
    if n & (n - 1) == 0:
        log.warning(
            "bridge: rejected a message in window %r: %s (%d so far)", session.window, reason, n
        )


def _safe_event(
    handler: Callable[..., Any], session: WindowSession, event: str, payload: Any
) -> None:
    if session.closed:  # the page went away while the handler waited its turn
        return
    try:
        handler(payload)
    except Exception:
        log.exception("handler for UI event %r raised", event)
