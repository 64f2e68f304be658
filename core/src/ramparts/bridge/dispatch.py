"""The dispatcher: from a verified message to a command's result, and back.

Order of checks for every message: size and framing, MAC, sequence number (once),
handle, arguments against the signature, then the command runs on a worker thread (or
the event loop, for ``async def``) under a timeout. Whatever goes wrong, the page gets a
``{code, message}`` error, never a traceback; forged, replayed and malformed messages
get nothing at all beyond ``rejected`` on the binary carrier.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import contextvars
import functools
import heapq
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

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
from ramparts.commands import CallContext
from ramparts.errors import CommandError, CommandFailed, CommandTimeout, NotAllowed

__all__ = ["Dispatcher"]

log = logging.getLogger("ramparts.bridge")

BinaryReply = Callable[[int, list[bytes]], None]
"""``reply(http_status, chunks)`` for the binary carrier."""

P = ParamSpec("P")
T = TypeVar("T")

#: The session whose async command is running (set in its task's own context), so the
#: loop's executor knows on whose behalf blocking work is submitted.
_SESSION: contextvars.ContextVar[WindowSession | None] = contextvars.ContextVar(
    "ramparts_session", default=None
)
_GONE = "the page that made this call is gone"


class Dispatcher:
    """Runs commands for every window session of one app.

    :param command_timeout: default seconds before a call answers ``timeout``.
    :param workers: shared threads that check messages and run synchronous commands
        (a session that holds none of them while all are busy gets an extra thread: see
        ``_Workers``).
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
        self._pool = _Workers(workers, "ramparts-cmd")
        self.session_workers = session_workers or max(1, workers // 2)
        self._lanes = _Lanes(self.session_workers)
        self._executor = _SessionExecutor(async_workers, async_share or max(1, async_workers // 4))
        self._loop = asyncio.new_event_loop()
        self._loop.set_default_executor(self._executor)
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="ramparts-loop", daemon=True
        )
        self._thread.start()
        self._watchdog = _Watchdog()
        self._loop_monitor = _LoopMonitor(self._loop, self._watchdog, loop_stall)
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
            kwargs = route.command.bind(msg.arguments())
        except CommandError as e:
            answer(error=e)
            return
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
            return
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
        _SESSION.set(session)  # this task's own context: its blocking work is this session's
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


class _Lane:
    """One owner's jobs: how many hold a thread, who waits (with how to drop each)."""

    __slots__ = ("closed", "running", "waiting")

    def __init__(self) -> None:
        self.running = 0
        self.closed = False
        self.waiting: collections.deque[tuple[Callable[[], None], Callable[[], None]]] = (
            collections.deque()
        )


class _Lanes:
    """Caps how many threads one owner (a session, or ``None``) holds at once.

    :meth:`run` runs a job now if its owner has a free slot, else queues it in the
    owner's lane. A thread that finishes a job takes the next one queued for the same
    owner, so an owner never holds more than ``share`` threads, even when its jobs
    hang: an owner can starve only its own jobs, not others'. A session's lane is tied
    to the session (``session.resources``): when it ends, its queued jobs are dropped
    (each one's ``drop`` runs instead) and the lane is forgotten.
    """

    def __init__(self, share: int) -> None:
        self.share = share
        self._lock = threading.Lock()
        self._lanes: dict[object, _Lane] = {}

    def run(self, owner: object, job: Callable[[], None], drop: Callable[[], None]) -> None:
        lane = self._lane(owner)
        with self._lock:
            if lane is None or lane.closed:
                dropped = True
            elif lane.running >= self.share:
                lane.waiting.append((job, drop))
                return
            else:
                dropped = False
                lane.running += 1
        if dropped or lane is None:
            drop()
            return
        next_job: Callable[[], None] | None = job
        while next_job is not None:
            try:
                next_job()
            except BaseException:  # a bug guard: the slot must be handed on whatever happens
                log.exception("bridge: a job failed")
            with self._lock:
                if lane.waiting:
                    next_job = lane.waiting.popleft()[0]
                else:
                    next_job = None
                    lane.running -= 1

    def _lane(self, owner: object) -> _Lane | None:
        """The owner's lane, made (and tied to its session) if needed; None: it ended."""
        with self._lock:
            lane = self._lanes.get(owner)
        if lane is not None:
            return lane
        fresh = _Lane()
        held: Held | None = None
        if isinstance(owner, WindowSession):
            try:  # outside the lock: an ended session runs the drain at once
                held = owner.resources.hold(functools.partial(self._drain, owner, fresh))
            except SessionEnded:
                return None
        with self._lock:
            lane = self._lanes.setdefault(owner, fresh)
        if lane is not fresh and held is not None:
            held.drop()
        return lane

    def _drain(self, owner: object, lane: _Lane) -> None:
        """The owner's session ended: drop what waits in its lane."""
        with self._lock:
            if self._lanes.get(owner) is lane:
                del self._lanes[owner]
            lane.closed = True
            dropped = [drop for _, drop in lane.waiting]
            lane.waiting.clear()
        for drop in dropped:
            try:
                drop()
            except Exception:
                log.exception("bridge: dropping a queued job failed")


class _SessionExecutor(concurrent.futures.ThreadPoolExecutor):
    """The default executor of the async commands' loop (``asyncio.to_thread``,
    ``loop.run_in_executor(None, ...)``).

    asyncio's own is one FIFO queue of a few threads for the whole app, so one window's
    slow blocking work delayed every other window's (``http.fetch`` behind another
    page's stalled calls). Here each job runs on behalf of the session whose command
    submitted it (``_SESSION``), on :class:`_Workers` (an owner with queued jobs always
    gets a thread) with at most ``share`` threads per session (:class:`_Lanes`). A job
    still queued when its command's task is cancelled (the session ended, or the
    command timed out) never runs: its future is cancelled with the task.

    A ``ThreadPoolExecutor`` only because ``loop.set_default_executor`` takes nothing
    else before Python 3.12; every method it uses is overridden, so it starts no thread.
    """

    def __init__(self, workers: int, share: int) -> None:
        super().__init__(max_workers=1, thread_name_prefix="ramparts-unused")
        self._pool = _Workers(workers, "ramparts-async")
        self._lanes = _Lanes(share)

    def submit(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[T]:
        owner = _SESSION.get()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def job() -> None:
            if not future.set_running_or_notify_cancel():
                return  # cancelled while it waited
            try:
                result = fn(*args, **kwargs)
            except BaseException as e:  # as ThreadPoolExecutor: the awaiting task gets it
                future.set_exception(e)
            else:
                future.set_result(result)

        self._pool.submit(owner, self._lanes.run, owner, job, future.cancel)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Drop queued work; running jobs end with the process (see ``_Workers``)."""
        self._pool.shutdown()


class _Workers:
    """Daemon threads that run jobs, each job on behalf of an owner (here: a session).

    ``size`` shared threads are started as needed and then wait for work; jobs queue per
    owner, and a shared thread takes the owners' jobs in turn. Invariant: **an owner with
    queued jobs always has a thread that will run them without waiting for any other
    owner's job to end.** That thread is one of these:

    1. a thread that is running one of the owner's jobs: the last of them to finish takes
       the owner's next job before anything else;
    2. a thread that was idle (woken for the job) or is being started (no thread waits
       while a job is queued);
    3. otherwise (every shared thread is running other owners' jobs, and the owner holds
       none) an *extra* thread started for it beyond ``size``. It runs only its owner's
       jobs and ends as soon as the owner has none queued.

    So a page whose commands hang holds up only its own later messages: another session
    always gets a thread, however many shared threads hung commands hold. An owner has
    at most one extra thread at a time (one is started only for an owner that holds no
    thread), so extras number at most one per session. They are also capped at ``size``:
    a closed session's extra thread stays blocked as long as its command does, and a page
    that reloaded itself with a hung command each time would otherwise add a thread per
    reload. Past that cap, case 3 no longer holds (the docs say so).

    Not ``concurrent.futures.ThreadPoolExecutor``: its threads are joined when the
    interpreter exits, so one command blocked in its thread (which Python cannot stop)
    kept the app's process alive after its last window had closed.
    """

    def __init__(self, size: int, name: str) -> None:
        self._size = size
        self._name = name
        self._cv = threading.Condition()
        self._queued: dict[object, collections.deque[Callable[[], None]]] = {}
        self._turns: collections.deque[object] = collections.deque()  # owners in _queued
        self._held: collections.Counter[object] = collections.Counter()  # threads per owner
        self._idle = 0  # threads waiting for a job that no submit has woken yet
        self._shared = 0
        self._extra = 0
        self._started = 0
        self._closed = False

    def submit(self, owner: object, fn: Callable[..., None], *args: Any) -> None:
        with self._cv:
            if self._closed:
                return
            if owner not in self._queued:
                self._queued[owner] = collections.deque()
                self._turns.append(owner)
            self._queued[owner].append(functools.partial(fn, *args))
            if self._idle:  # case 2
                self._idle -= 1
                self._cv.notify()
                return
            if self._shared < self._size:  # case 2
                self._shared += 1
                extra = False
            elif not self._held[owner] and self._extra < self._size:  # case 3
                self._extra += 1
                extra = True
            else:  # case 1, or the next shared thread to finish
                return
            job = self._take(owner)
            self._started += 1
            name = f"{self._name}_{'extra_' if extra else ''}{self._started}"
        try:
            threading.Thread(
                target=self._run, args=(owner, job, extra), name=name, daemon=True
            ).start()
        except RuntimeError:  # "can't start new thread": the process is out of threads
            log.error("bridge: could not start a worker thread; the job waits for a free one")
            with self._cv:
                self._unstart(owner, job, extra)

    def _unstart(self, owner: object, job: Callable[[], None], extra: bool) -> None:
        """Undo a start that failed: the job goes back first in its owner's queue, for the
        next thread that frees up (under the lock)."""
        self._held[owner] -= 1
        if not self._held[owner]:
            del self._held[owner]
        if extra:
            self._extra -= 1
        else:
            self._shared -= 1
        if self._closed:
            return
        if owner not in self._queued:
            self._queued[owner] = collections.deque()
            self._turns.appendleft(owner)
        self._queued[owner].appendleft(job)
        if self._idle:  # a thread may have gone idle since the job was taken: wake it
            self._idle -= 1
            self._cv.notify()

    def _run(self, owner: object, job: Callable[[], None], extra: bool) -> None:
        while True:
            try:
                job()
            except BaseException:  # a thread that died here would leave its counts held
                log.exception("bridge: a worker task failed")
            with self._cv:
                following = self._next(owner, extra)
            if following is None:
                return
            owner, job = following

    def _next(self, owner: object, extra: bool) -> tuple[object, Callable[[], None]] | None:
        """After a job of ``owner``: this thread's next job, or None to end (under the lock)."""
        self._held[owner] -= 1
        if not self._held[owner]:
            del self._held[owner]
            if owner in self._queued:  # case 1: its last thread serves its queue first
                return owner, self._take(owner)
        if extra:
            self._extra -= 1
            return None
        while not self._turns:
            if self._closed:
                return None
            self._idle += 1
            self._cv.wait()
        owner = self._turns[0]
        return owner, self._take(owner)

    def _take(self, owner: object) -> Callable[[], None]:
        """The owner's oldest queued job, now held by the calling thread (under the lock)."""
        jobs = self._queued[owner]
        job = jobs.popleft()
        self._turns.remove(owner)
        if jobs:
            self._turns.append(owner)  # its next job waits for the other owners' turns
        else:
            del self._queued[owner]
        self._held[owner] += 1
        return job

    def shutdown(self) -> None:
        """Drop queued work and let idle threads end; busy ones end with the process."""
        with self._cv:
            self._closed = True
            self._queued.clear()
            self._turns.clear()
            self._cv.notify_all()


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


class _Watchdog:
    """One thread that runs callbacks after deadlines (cheaper than a timer per call).

    Cancelled entries leave only a small (deadline, id) pair in the heap, and the heap is
    rebuilt when those outnumber the live entries, so memory follows calls in flight.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int]] = []
        self._live: dict[int, Callable[[], None]] = {}
        self._cv = threading.Condition()
        self._seq = 0
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="ramparts-watchdog", daemon=True)
        self._thread.start()

    def after(self, seconds: float, fn: Callable[[], None]) -> int:
        with self._cv:
            self._seq += 1
            self._live[self._seq] = fn
            deadline = time.monotonic() + seconds
            earliest = not self._heap or deadline < self._heap[0][0]
            heapq.heappush(self._heap, (deadline, self._seq))
            if earliest:  # only then must the sleeping thread wake up earlier
                self._cv.notify()
            return self._seq

    def cancel(self, token: int) -> None:
        with self._cv:
            self._live.pop(token, None)
            if len(self._heap) > 64 and len(self._heap) > 2 * len(self._live):
                self._heap = [e for e in self._heap if e[1] in self._live]
                heapq.heapify(self._heap)

    def __len__(self) -> int:
        return len(self._live)

    def stop(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cv.wait(wait)
                if self._stopped:
                    return
                _, token = heapq.heappop(self._heap)
                fn = self._live.pop(token, None)
            if fn is not None:
                try:
                    fn()
                except Exception:
                    log.exception("watchdog callback failed")


class _LoopMonitor:
    """Warns when the event loop of async commands stops running while commands are on it.

    While at least one ``async def`` command is in flight, the watchdog thread posts a
    probe (a no-op) to the loop every ``interval`` seconds. A probe still not run at the
    next check means the loop has run nothing for at least ``interval`` s: code on it
    blocks (``time.sleep``, blocking I/O or long CPU work in an ``async def``). The
    warning names the async commands in flight then; one of them, or a task it started,
    is blocking. Python cannot interrupt it: every async command waits until it returns,
    and only timeouts (answered on the watchdog thread) still reach the pages on time.
    One warning per stall, and only the 1st, 2nd, 4th, 8th... stall is logged, so a page
    that keeps calling such a command cannot flood the log.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, watchdog: _Watchdog, interval: float
    ) -> None:
        self._loop = loop
        self._watchdog = watchdog
        self._interval = interval
        self._lock = threading.Lock()
        self._running: collections.Counter[str] = collections.Counter()
        self._chain: object | None = None  # the live series of checks, while any run
        self._token = 0  # its next check's watchdog token
        self._probe = threading.Event()
        self._probe_sent = 0.0
        self._reported = False
        self.stalls = 0

    def started(self, name: str) -> None:
        with self._lock:
            self._running[name] += 1
            if self._chain is None:
                self._chain = object()
                self._probe.set()  # the first check sends a new probe
                self._schedule(0)

    def ended(self, name: str) -> None:
        with self._lock:
            self._running[name] -= 1
            if not self._running[name]:
                del self._running[name]
            if not self._running:  # nothing to watch: no entry left in the watchdog
                self._watchdog.cancel(self._token)
                self._chain = None

    def _schedule(self, delay: float) -> None:
        chain = self._chain
        self._token = self._watchdog.after(delay, lambda: self._check(chain))

    def _check(self, chain: object) -> None:
        """On the watchdog thread."""
        with self._lock:
            if chain is not self._chain:
                return  # the commands it watched have ended since it was scheduled
            stalled = None
            if self._probe.is_set():
                self._probe = threading.Event()
                self._probe_sent = time.monotonic()
                self._reported = False
                self._loop.call_soon_threadsafe(self._probe.set)
            elif not self._reported:  # once per stall
                self._reported = True
                self.stalls += 1
                if self.stalls & (self.stalls - 1) == 0:  # the 1st, 2nd, 4th, 8th...
                    waited = time.monotonic() - self._probe_sent
                    stalled = waited, _names(self._running), self.stalls
            self._schedule(self._interval)
        if stalled is not None:
            log.warning(
                "bridge: the event loop of async commands has run nothing for %.3g s: code"
                " on it blocks (time.sleep, blocking I/O or long CPU work in an async def?)."
                " Async commands in flight: %s. Python cannot interrupt it; all async"
                " commands wait until it returns (%d stalls so far)",
                *stalled,
            )


def _names(counts: collections.Counter[str], most: int = 10) -> str:
    """``a, b (3 calls), c`` for the log, at most ``most`` names."""
    shown = [k if n == 1 else f"{k} ({n} calls)" for k, n in counts.most_common(most)]
    if len(counts) > most:
        shown.append(f"and {len(counts) - most} more")
    return ", ".join(shown)


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
