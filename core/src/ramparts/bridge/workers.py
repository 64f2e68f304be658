"""The threads that run the bridge's work, shared fairly between window sessions.

:class:`Workers` runs jobs on behalf of owners (sessions): the dispatcher's pool
verifies messages and runs synchronous commands, and :class:`SessionExecutor`'s runs the
blocking work of ``async def`` commands. :class:`Lanes` caps how many threads one
session holds at once. Together they keep a page whose commands hang from delaying any
other page's.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextvars
import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from ramparts.bridge.session import Held, SessionEnded, WindowSession

__all__ = ["Lanes", "SessionExecutor", "Workers", "current_session"]

log = logging.getLogger("ramparts.bridge")

P = ParamSpec("P")
T = TypeVar("T")

#: The session whose async command is running (set in its task's own context), so the
#: loop's executor knows on whose behalf blocking work is submitted.
current_session: contextvars.ContextVar[WindowSession | None] = contextvars.ContextVar(
    "ramparts_session", default=None
)


class _Lane:
    """One owner's jobs: how many hold a thread, who waits (with how to drop each)."""

    __slots__ = ("closed", "running", "waiting")

    def __init__(self) -> None:
        self.running = 0
        self.closed = False
        self.waiting: collections.deque[tuple[Callable[[], None], Callable[[], None]]] = (
            collections.deque()
        )


class Lanes:
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


class SessionExecutor(concurrent.futures.ThreadPoolExecutor):
    """The default executor of the async commands' loop (``asyncio.to_thread``,
    ``loop.run_in_executor(None, ...)``).

    asyncio's own is one FIFO queue of a few threads for the whole app, so one window's
    slow blocking work delayed every other window's (``http.fetch`` behind another
    page's stalled calls). Here each job runs on behalf of the session whose command
    submitted it (``current_session``), on :class:`Workers` (an owner with queued jobs
    always gets a thread) with at most ``share`` threads per session (:class:`Lanes`). A job
    still queued when its command's task is cancelled (the session ended, or the
    command timed out) never runs: its future is cancelled with the task.

    A ``ThreadPoolExecutor`` only because ``loop.set_default_executor`` takes nothing
    else before Python 3.12; every method it uses is overridden, so it starts no thread.
    """

    def __init__(self, workers: int, share: int) -> None:
        super().__init__(max_workers=1, thread_name_prefix="ramparts-unused")
        self._pool = Workers(workers, "ramparts-async")
        self._lanes = Lanes(share)

    def submit(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[T]:
        owner = current_session.get()
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
        """Drop queued work; running jobs end with the process (see ``Workers``)."""
        self._pool.shutdown()


class Workers:
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
