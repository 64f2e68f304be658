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
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from .commands import CallContext
from .errors import CommandError, CommandFailed, CommandTimeout, NotAllowed
from .protocol import (
    Message,
    ProtocolError,
    Unserializable,
    decode_binary,
    decode_channel,
    encode_binary_reply,
    encode_channel_reply,
)
from .session import Route, WindowSession

__all__ = ["Dispatcher"]

log = logging.getLogger("ramparts.bridge")

BinaryReply = Callable[[int, list[bytes]], None]
"""``reply(http_status, chunks)`` for the binary carrier."""


class Dispatcher:
    """Runs commands for every window session of one app.

    :param command_timeout: default seconds before a call answers ``timeout``.
    :param workers: threads for synchronous commands.
    """

    def __init__(self, command_timeout: float, workers: int = 32) -> None:
        self.command_timeout = command_timeout
        self._pool = concurrent.futures.ThreadPoolExecutor(
            workers, thread_name_prefix="ramparts-cmd"
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="ramparts-loop", daemon=True
        )
        self._thread.start()
        self._count_lock = threading.Lock()
        self.in_flight = 0
        #: ``on_call(window, name, outcome, milliseconds)`` after every call (tracing).
        self.on_call: Callable[[str, str, str, float], None] | None = None

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- entry points (called on the GUI thread by the backend) ----------------------

    def channel_message(
        self, session: WindowSession, text: Any, refuse: CommandError | None = None
    ) -> None:
        """A channel-carrier message. ``refuse``: verify it, then answer with this error."""
        try:
            msg = self._verify(session, decode_channel, text)
        except ProtocolError:
            return
        self._route(session, msg, binary_reply=None, refuse=refuse)

    def binary_message(
        self,
        session: WindowSession,
        body: bytes,
        reply: BinaryReply,
        refuse: CommandError | None = None,
    ) -> None:
        """A binary-carrier message; ``reply`` is called once, from any thread."""
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
            if not session.replay.accept(msg.seq):
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
        if refuse is not None and msg.event is not None:
            session.stats["refused-event"] += 1
            return
        if msg.event is not None:
            self._ui_event(session, msg)
            return
        assert msg.handle is not None and msg.callback is not None
        route, next_handle = session.take(msg.handle)

        started = time.perf_counter()

        def answer(result: Any = None, error: CommandError | None = None) -> None:
            if self.on_call is not None:
                name = route.name if route is not None else "<unknown handle>"
                outcome = "ok" if error is None else error.code
                self.on_call(session.window, name, outcome, (time.perf_counter() - started) * 1000)
            reply: dict[str, Any] = {"c": msg.callback}
            if next_handle is not None:
                reply["n"] = next_handle
            if error is None:
                reply["ok"], reply["r"] = True, result
            else:
                reply["ok"], reply["e"] = False, error.to_wire()
            self._send(session, reply, binary_reply)

        if route is None:
            answer(error=NotAllowed("no such command here (unknown or expired handle)"))
            return
        if refuse is not None:
            answer(error=refuse)
            return
        try:
            kwargs = route.command.bind(msg.args)
        except CommandError as e:
            answer(error=e)
            return
        with self._count_lock:
            self.in_flight += 1
        fut = asyncio.run_coroutine_threadsafe(self._run(session, route, kwargs), self._loop)

        def done(f: concurrent.futures.Future[Any]) -> None:
            with self._count_lock:
                self.in_flight -= 1
            exc = f.exception()
            if exc is None:
                answer(result=f.result())
            elif isinstance(exc, CommandError):
                answer(error=exc)
            else:  # _run converts everything; this is a bug guard
                answer(error=CommandFailed(f"{route.name} failed"))

        fut.add_done_callback(done)

    async def _run(self, session: WindowSession, route: Route, kwargs: dict[str, Any]) -> Any:
        cmd = route.command
        timeout = cmd.timeout if cmd.timeout is not None else self.command_timeout
        limit = timeout if math.isfinite(timeout) else None  # inf: waits for a person
        if cmd.wants_context:
            ctx = CallContext(route.capability, cmd.name, session.window, route.state, session)
            call_args: tuple[Any, ...] = (ctx,)
        else:
            call_args = ()
        try:
            if cmd.is_async:
                return await asyncio.wait_for(cmd.func(*call_args, **kwargs), limit)
            work = self._loop.run_in_executor(self._pool, lambda: cmd.func(*call_args, **kwargs))
            return await asyncio.wait_for(work, limit)
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
        try:
            if binary_reply is not None:
                binary_reply(200, encode_binary_reply(reply))
            else:
                session.send_reply(encode_channel_reply(reply))
        except Unserializable as e:
            log.error("a command's result could not be sent: %s", e)
            failed = {k: v for k, v in reply.items() if k in ("c", "n")}
            failed.update(ok=False, e=CommandFailed(f"the result could not be sent: {e}").to_wire())
            if binary_reply is not None:
                binary_reply(200, encode_binary_reply(failed))
            else:
                session.send_reply(encode_channel_reply(failed))

    def _ui_event(self, session: WindowSession, msg: Message) -> None:
        assert msg.event is not None
        reg = session.registry
        if msg.event not in reg.ui_events:
            session.stats["undeclared-event"] += 1
            _log_rejection(session, "undeclared-event")
            return
        for handler in reg.event_handlers.get(msg.event, ()):
            self._pool.submit(_safe_event, handler, session, msg.event, msg.payload)


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
    try:
        handler(payload)
    except Exception:
        log.exception("handler for UI event %r raised", event)
