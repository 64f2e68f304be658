"""The dispatcher and sessions without a webview: the page side is played by signing
messages with the session key, exactly as the bootstrap does."""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from collections.abc import Iterator
from typing import Annotated, Any

import pytest

from ramparts.bridge.dispatch import Dispatcher
from ramparts.bridge.protocol import sign_binary, sign_channel
from ramparts.bridge.session import PER_CALL_POOL, Registry, Route, WindowSession
from ramparts.bridge.workers import Workers
from ramparts.commands import CallContext, as_command, command
from ramparts.errors import NotAllowed


@command
def double(n: int) -> int:
    return n * 2


@command(timeout=0.2)
def stuck() -> None:
    threading.Event().wait(2)


@command
def blob(data: bytes) -> bytes:
    return data[::-1]


class _Unreadable(dict[str, Any]):
    """A result whose encoding raises something other than Unserializable."""

    def items(self) -> Any:
        raise RuntimeError("cannot read me")


@command
def unreadable() -> Any:
    return {"fine": 1, "bad": _Unreadable(x=1)}


EVENTS: queue.Queue[Any] = queue.Queue()


def registry() -> Registry:
    reg = Registry(ui_events=frozenset({"ping"}), event_handlers={"ping": (EVENTS.put,)})
    for f in (double, stuck, blob, unreadable):
        cmd = as_command(f)
        assert cmd is not None
        reg.add(Route(cmd.name, None, cmd, None))
    return reg


class Page:
    """Plays the bootstrap: signs messages and collects replies."""

    def __init__(self, mode: str = "per-session") -> None:
        self.replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self.session = WindowSession(
            "main", registry(), mode, lambda t: self.replies.put(json.loads(t))
        )  # type: ignore[arg-type]
        self.seq = 0

    def call(
        self, d: Dispatcher, name: str, args: Any, handle: str | None = None
    ) -> dict[str, Any]:
        self.seq += 1
        h = handle or self.session.initial_handles[name][0]
        d.channel_message(
            self.session,
            sign_channel(
                self.session.key,
                json.dumps({"s": self.seq, "h": h, "c": f"c{self.seq}", "a": args}),
            ),
        )
        return self.replies.get(timeout=5)


@pytest.fixture
def dispatcher() -> Iterator[Dispatcher]:
    d = Dispatcher(command_timeout=5)
    yield d
    d.close()


def test_call_and_errors(dispatcher: Dispatcher) -> None:
    page = Page()
    assert page.call(dispatcher, "double", {"n": 21}) == {"c": "c1", "ok": True, "r": 42}
    bad = page.call(dispatcher, "double", {"n": "21"})
    assert bad["ok"] is False and bad["e"]["code"] == "invalid_args"
    timeout = page.call(dispatcher, "stuck", {})
    assert timeout["e"] == {"code": "timeout", "message": "stuck did not finish within 0.2 s"}
    unknown = page.call(dispatcher, "double", {"n": 1}, handle="guessed-handle")
    assert unknown["e"]["code"] == "not_allowed"


def test_per_call_handles_rotate(dispatcher: Dispatcher) -> None:
    page = Page("per-call")
    pool = page.session.initial_handles["double"]
    assert len(pool) == PER_CALL_POOL and len(set(pool)) == PER_CALL_POOL
    first = page.call(dispatcher, "double", {"n": 1}, handle=pool[0])
    assert first["ok"] and first["n"] not in pool
    again = page.call(dispatcher, "double", {"n": 1}, handle=pool[0])
    assert again["e"]["code"] == "not_allowed" and "n" not in again
    fresh = page.call(dispatcher, "double", {"n": 2}, handle=first["n"])
    assert fresh["r"] == 4
    routes = len(page.session.registry.routes)
    assert page.session.live_handles == PER_CALL_POOL * routes  # nothing leaks or is lost


def test_forged_and_replayed_messages_never_run(dispatcher: Dispatcher) -> None:
    page = Page()
    h = page.session.initial_handles["double"][0]
    header = json.dumps({"s": 1, "h": h, "c": "x", "a": {"n": 1}})
    dispatcher.channel_message(page.session, sign_channel(b"k" * 32, header))
    text = sign_channel(page.session.key, header)
    dispatcher.channel_message(page.session, text)
    dispatcher.channel_message(page.session, text)
    assert dispatcher.wait_idle()
    assert page.replies.get_nowait()["r"] == 2
    assert page.replies.empty()
    assert page.session.stats == {"bad-mac": 1, "replayed": 1}


def test_binary_carrier(dispatcher: Dispatcher) -> None:
    page = Page()
    got: queue.Queue[tuple[int, list[bytes]]] = queue.Queue()
    body = sign_binary(
        page.session.key,
        {
            "s": 1,
            "h": page.session.initial_handles["blob"][0],
            "c": "b",
            "a": {"data": {"$bytes": 0}},
        },
        [b"abc"],
    )
    dispatcher.binary_message(page.session, body, lambda status, chunks: got.put((status, chunks)))
    status, chunks = got.get(timeout=5)
    assert status == 200 and json.loads(chunks[1])["r"] == {"$bytes": 0} and chunks[2] == b"cba"
    dispatcher.binary_message(page.session, body, lambda status, chunks: got.put((status, chunks)))
    assert got.get(timeout=5)[0] == 403  # replayed


def test_refusal_still_verifies_first(dispatcher: Dispatcher) -> None:
    page = Page()
    page.seq += 1
    text = sign_channel(
        page.session.key,
        json.dumps(
            {"s": 1, "h": page.session.initial_handles["double"][0], "c": "c", "a": {"n": 1}}
        ),
    )
    dispatcher.channel_message(page.session, text, refuse=NotAllowed("frames"))
    assert page.replies.get(timeout=5)["e"] == {"code": "not_allowed", "message": "frames"}


def test_ui_events_reach_declared_handlers_only(dispatcher: Dispatcher) -> None:
    page = Page()
    for seq, name in ((1, "ping"), (2, "undeclared")):
        dispatcher.channel_message(
            page.session,
            sign_channel(page.session.key, json.dumps({"s": seq, "e": name, "p": {"n": seq}})),
        )
    assert EVENTS.get(timeout=5) == {"n": 1}
    assert dispatcher.wait_idle()
    assert page.session.stats["undeclared-event"] == 1


def test_closed_session_gets_nothing(dispatcher: Dispatcher) -> None:
    page = Page()
    page.session.close()
    dispatcher.channel_message(
        page.session,
        sign_channel(page.session.key, json.dumps({"s": 1, "h": "x", "c": "c", "a": {}})),
    )
    assert dispatcher.wait_idle()
    assert page.session.stats["session-closed"] == 1 and page.replies.empty()


def test_events_are_refused_on_the_binary_carrier(dispatcher: Dispatcher) -> None:
    page = Page()
    got: queue.Queue[int] = queue.Queue()
    body = sign_binary(page.session.key, {"s": 1, "e": "ping", "p": {"n": 99}})
    dispatcher.binary_message(page.session, body, lambda status, chunks: got.put(status))
    assert got.get(timeout=5) == 403
    assert dispatcher.wait_idle()
    assert sum(page.session.stats.values()) == 1  # bad-event or event-on-binary-carrier
    assert EVENTS.empty()


def test_finished_calls_leave_no_timeout_pending(dispatcher: Dispatcher) -> None:
    page = Page()
    for i in range(200):
        assert page.call(dispatcher, "double", {"n": i})["r"] == 2 * i
    assert len(dispatcher._watchdog) == 0 and dispatcher.in_flight == 0


@command
async def raises_timeout() -> None:
    raise TimeoutError("the command's own")


def test_a_commands_own_timeout_error_is_a_failure_not_a_timeout(dispatcher: Dispatcher) -> None:
    cmd = as_command(raises_timeout)
    assert cmd is not None
    reg = registry()
    reg.add(Route(cmd.name, None, cmd, None))
    replies: queue.Queue[dict[str, Any]] = queue.Queue()
    session = WindowSession("main", reg, "per-session", lambda t: replies.put(json.loads(t)))
    header = {"s": 1, "h": session.initial_handles["raises_timeout"][0], "c": "c", "a": {}}
    dispatcher.channel_message(session, sign_channel(session.key, json.dumps(header)))
    assert replies.get(timeout=5)["e"]["code"] == "failed"


def _crashing_check(value: int, where: str) -> None:
    raise KeyError("a bug in the check, not a bad argument")


@command
def scale(x: float) -> float:
    return x * 2


@command
def checked(n: Annotated[int, _crashing_check]) -> int:
    return n


@pytest.mark.parametrize("mode", ["per-session", "per-call"])
def test_argument_checks_that_overflow_or_crash_still_answer(
    dispatcher: Dispatcher, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A call whose arguments make a check raise gets a reply (and its next handle)."""
    reg = registry()
    for f in (scale, checked):
        cmd = as_command(f)
        assert cmd is not None
        reg.add(Route(cmd.name, None, cmd, None))
    replies: queue.Queue[dict[str, Any]] = queue.Queue()
    session = WindowSession("main", reg, mode, lambda t: replies.put(json.loads(t)))  # type: ignore[arg-type]

    def call(seq: int, name: str, args_json: str, h: str | None = None) -> dict[str, Any]:
        h = h or session.initial_handles[name][0]
        header = f'{{"s":{seq},"h":"{h}","c":"c{seq}","a":{args_json}}}'
        dispatcher.channel_message(session, sign_channel(session.key, header))
        return replies.get(timeout=5)

    huge = call(1, "scale", '{"x":' + "9" * 400 + "}")
    # The strict loader refuses it before the check: a double cannot hold it.
    assert huge["e"]["code"] == "invalid_args"
    assert huge["e"]["data"] == {"path": "x", "expected": "finite number"}
    assert huge["e"]["message"].startswith("x: 9999") and "beyond the range" in huge["e"]["message"]
    crashed = call(2, "checked", '{"n":1}')
    assert crashed["e"] == {
        "code": "failed",
        "message": "checking the arguments of checked failed (details are in the app's log)",
    }
    assert "a bug in the check" in caplog.text and "'main'" in caplog.text
    if mode == "per-call":
        assert "n" in huge and "n" in crashed
        assert session.live_handles == len(reg.routes) * PER_CALL_POOL  # no handle lost
    assert call(3, "scale", '{"x":2}', huge.get("n"))["r"] == 4.0


GATE = threading.Event()


@command(timeout=0.2)
def held() -> None:
    """Holds its worker until the test opens the gate (a hung command)."""
    GATE.wait(30)


def test_one_session_cannot_hold_every_worker() -> None:
    """Page A hangs more commands than its share of workers: page B is still answered,
    A's extra calls wait for A's own workers, and A's calls that waited past the page's
    deadline are answered without running."""
    GATE.clear()
    d = Dispatcher(command_timeout=5, workers=4)  # 2 workers per session
    try:
        reg = registry()
        cmd = as_command(held)
        assert cmd is not None
        reg.add(Route(cmd.name, None, cmd, None))
        a_replies: queue.Queue[dict[str, Any]] = queue.Queue()
        a = WindowSession("a", reg, "per-session", lambda t: a_replies.put(json.loads(t)))
        b = Page()

        def send(seq: int, name: str, args: dict[str, Any]) -> None:
            header = {"s": seq, "h": a.initial_handles[name][0], "c": f"a{seq}", "a": args}
            d.channel_message(a, sign_channel(a.key, json.dumps(header)))

        for seq in (1, 2, 3, 4):
            send(seq, "held", {})
        ran = {a_replies.get(timeout=5)["c"], a_replies.get(timeout=5)["c"]}
        waited = {"a1", "a2", "a3", "a4"} - ran  # two run (and time out), two wait
        assert b.call(d, "double", {"n": 21})["r"] == 42  # 2 of the 4 workers are free
        send(5, "double", {"n": 1})  # A's own call waits behind A's hung ones
        threading.Event().wait(1.4)  # past held's page deadline: 0.2 s * 1.5 + 1 s
        GATE.set()
        later = {r["c"]: r for r in (a_replies.get(timeout=5) for _ in range(3))}
        for c in waited:
            assert later[c]["e"]["code"] == "timeout"
            assert later[c]["e"]["message"].startswith("held did not start within")
        assert later["a5"]["r"] == 2
        assert d.wait_idle()
    finally:
        GATE.set()
        d.close()


def _session(window: str, *funcs: Any) -> tuple[WindowSession, queue.Queue[dict[str, Any]]]:
    """A session whose registry also routes ``funcs``, and the queue its replies go to."""
    reg = registry()
    for f in funcs:
        cmd = as_command(f)
        assert cmd is not None
        reg.add(Route(cmd.name, None, cmd, None))
    replies: queue.Queue[dict[str, Any]] = queue.Queue()
    return WindowSession(window, reg, "per-session", lambda t: replies.put(json.loads(t))), replies


def _send(d: Dispatcher, session: WindowSession, seq: int, name: str, args: Any) -> None:
    header = {"s": seq, "h": session.initial_handles[name][0], "c": f"c{seq}", "a": args}
    d.channel_message(session, sign_channel(session.key, json.dumps(header)))


HUNG = threading.Event()
STARTED: queue.Queue[str] = queue.Queue()


@command
def hung(ctx: CallContext) -> None:
    """Holds its worker until the test sets HUNG (a hung command)."""
    STARTED.put(ctx.window)
    HUNG.wait(30)


def test_two_sessions_cannot_hold_every_worker_from_a_third() -> None:
    """A and B hang all the shared workers between them (each its share): C's messages
    still get a thread (an extra one, beyond the pool), and it ends once C is served."""
    HUNG.clear()
    d = Dispatcher(command_timeout=30, workers=4, session_workers=2)
    try:
        (a, a_replies), (b, _) = _session("a", hung), _session("b", hung)
        for s in (a, b):
            _send(d, s, 1, "hung", {})
            _send(d, s, 2, "hung", {})
        started = sorted(STARTED.get(timeout=5) for _ in range(4))
        assert started == ["a", "a", "b", "b"]  # all 4 workers are held
        _send(d, a, 3, "double", {"n": 1})  # queued behind A's own hung calls
        c, c_replies = _session("c")
        for seq in (1, 2):
            _send(d, c, seq, "double", {"n": 20 + seq})
            assert c_replies.get(timeout=5) == {"c": f"c{seq}", "ok": True, "r": 2 * (20 + seq)}
        assert a_replies.empty()  # C's extra thread served only C; A still waits for its own
        for t in threading.enumerate():
            if t.name.startswith("ramparts-cmd_extra"):
                t.join(timeout=5)  # an extra thread ends when its session has no work
                assert not t.is_alive()
        HUNG.set()
        replies = {r["c"]: r for r in (a_replies.get(timeout=5) for _ in range(3))}
        assert replies["c3"]["r"] == 2
        assert d.wait_idle()
    finally:
        HUNG.set()
        d.close()


LOOP_BLOCKED = threading.Event()
LOOP_RELEASED = threading.Event()


@command(timeout=0.3)
async def blocks_the_loop() -> None:
    """A bug: blocks the event loop's thread instead of awaiting."""
    LOOP_BLOCKED.set()
    LOOP_RELEASED.wait(30)


def test_an_async_command_that_blocks_the_loop_still_times_out(dispatcher: Dispatcher) -> None:
    """Python answers ``timeout`` on time although the loop (and so wait_for) is stuck."""
    LOOP_BLOCKED.clear()
    LOOP_RELEASED.clear()
    try:
        s, replies = _session("main", blocks_the_loop)
        _send(dispatcher, s, 1, "blocks_the_loop", {})
        assert replies.get(timeout=5)["e"] == {
            "code": "timeout",
            "message": "blocks_the_loop did not finish within 0.3 s",
        }
        assert LOOP_BLOCKED.is_set() and not LOOP_RELEASED.is_set()  # answered while stuck
    finally:
        LOOP_RELEASED.set()
    _let_the_loop_settle(dispatcher)
    assert len(dispatcher._watchdog) == 0  # no timeout or loop check left behind


def _let_the_loop_settle(d: Dispatcher) -> None:
    """Return once the loop has finished its current step and run the callbacks that step
    queued (such as a finished command's ``done``)."""
    for _ in range(2):
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), d._loop).result(5)


class _Logged(logging.Handler):
    """Sets ``seen`` when a record containing ``text`` is logged."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


def test_a_stalled_loop_is_logged_once_naming_the_command(
    caplog: pytest.LogCaptureFixture,
) -> None:
    LOOP_BLOCKED.clear()
    LOOP_RELEASED.clear()
    d = Dispatcher(command_timeout=5, loop_stall=0.05)
    logged = _Logged("has run nothing for")
    logging.getLogger("ramparts.bridge").addHandler(logged)
    try:
        s, replies = _session("main", blocks_the_loop)
        _send(d, s, 1, "blocks_the_loop", {})
        assert logged.seen.wait(5)
        # The loop is still stuck when the timeout is answered (0.3 s, several checks
        # later): this one stall must have been logged once.
        assert replies.get(timeout=5)["e"]["code"] == "timeout"
        stalls = [r.getMessage() for r in caplog.records if "has run nothing for" in r.getMessage()]
    finally:
        LOOP_RELEASED.set()
        logging.getLogger("ramparts.bridge").removeHandler(logged)
        d.close()
    assert len(stalls) == 1, stalls  # one warning per stall
    assert "blocks_the_loop (window 'main')" in stalls[0]
    assert "Python cannot interrupt it" in stalls[0]


SLEEP_CANCELLED = threading.Event()


@command(timeout=0.2)
async def sleeps_past_its_timeout() -> None:
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        SLEEP_CANCELLED.set()
        raise


def test_an_async_command_that_overruns_is_answered_and_cancelled(
    dispatcher: Dispatcher,
) -> None:
    SLEEP_CANCELLED.clear()
    s, replies = _session("main", sleeps_past_its_timeout)
    _send(dispatcher, s, 1, "sleeps_past_its_timeout", {})
    assert replies.get(timeout=5)["e"] == {
        "code": "timeout",
        "message": "sleeps_past_its_timeout did not finish within 0.2 s",
    }
    assert SLEEP_CANCELLED.wait(5)  # the loop is alive: the coroutine was cancelled
    _let_the_loop_settle(dispatcher)
    assert len(dispatcher._watchdog) == 0  # no timeout or loop check left behind


def test_a_worker_that_cannot_start_loses_no_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """Out of threads, ``Thread.start`` raises: the job goes back to its owner's queue
    (first) and runs, before the owner's later jobs, once a thread can start."""
    pool = Workers(4, "test")
    ran: list[str] = []
    done = threading.Event()
    real_start = threading.Thread.start

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    pool.submit("a", ran.append, "first")
    assert ran == []
    monkeypatch.setattr(threading.Thread, "start", real_start)
    pool.submit("a", ran.append, "second")
    pool.submit("a", done.set)
    assert done.wait(10)
    assert ran == ["first", "second"]
    pool.shutdown()


def test_a_reply_that_fails_to_encode_is_still_answered(
    dispatcher: Dispatcher, caplog: pytest.LogCaptureFixture
) -> None:
    """Not only Unserializable: any error while encoding a result answers ``failed``
    (with the handle's replacement in per-call mode) instead of leaving the page to its
    deadline."""
    page = Page("per-call")
    reply = page.call(dispatcher, "unreadable", {})
    assert reply["ok"] is False and reply["e"]["code"] == "failed"
    assert "could not be sent" in reply["e"]["message"] and isinstance(reply.get("n"), str)
    assert "encoding a reply failed" in caplog.text


@command
def quits() -> None:
    """A "Quit" command written as a script would: sys.exit on a worker thread."""
    raise SystemExit(0)


@command
async def quits_async() -> None:
    raise SystemExit(0)


@command
async def fine_async() -> str:
    return "fine"


def test_system_exit_in_a_command_is_a_failure_not_a_dead_worker_or_loop() -> None:
    """Found in review: SystemExit passed every ``except Exception`` and ended the worker
    thread with its counts still held (a sync command), or asyncio re-raised it out of the
    event loop and ended the loop's thread (an async one). Both now answer ``failed``,
    and the next calls of both kinds are served."""
    d = Dispatcher(command_timeout=5, workers=1, session_workers=1)
    try:
        s, replies = _session("a", quits, quits_async, fine_async)
        for seq, name in enumerate(["quits", "double", "quits_async", "fine_async"], 1):
            _send(d, s, seq, name, {"n": 2} if name == "double" else {})
        got = {r["c"]: r for r in (replies.get(timeout=5) for _ in range(4))}
        assert got["c1"]["e"]["code"] == "failed" and got["c3"]["e"]["code"] == "failed"
        assert got["c2"]["r"] == 4 and got["c4"]["r"] == "fine"
        assert d.wait_idle()
    finally:
        d.close()


BLOCK_HANDLERS = threading.Event()
HANDLERS_RUNNING = threading.Semaphore(0)


def test_event_handlers_count_against_the_sessions_worker_share() -> None:
    """Found in review: ``@on`` handlers bypassed the per-session cap, so one page whose
    handlers block could hold every shared worker. They now run in the session's lane:
    with a share of 2, four blocking handlers run two at a time."""
    BLOCK_HANDLERS.clear()
    running = {"now": 0, "most": 0}
    lock = threading.Lock()

    def handler(payload: Any) -> None:
        with lock:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
        HANDLERS_RUNNING.release()
        BLOCK_HANDLERS.wait(30)
        with lock:
            running["now"] -= 1

    reg = Registry(ui_events=frozenset({"tick"}), event_handlers={"tick": (handler,)})
    s = WindowSession("main", reg, "per-session", lambda t: None)
    d = Dispatcher(command_timeout=5, workers=8, session_workers=2)
    try:
        for seq in range(1, 5):
            d.channel_message(s, sign_channel(s.key, json.dumps({"s": seq, "e": "tick", "p": seq})))
        assert HANDLERS_RUNNING.acquire(timeout=5) and HANDLERS_RUNNING.acquire(timeout=5)
        lane = d._lanes._lanes[s]
        for _ in range(500):  # the other two messages are verified and wait in the lane
            with d._lanes._lock:
                if len(lane.waiting) == 2:
                    break
            threading.Event().wait(0.01)
        with d._lanes._lock:
            assert (lane.running, len(lane.waiting)) == (2, 2)
        BLOCK_HANDLERS.set()
        assert d.wait_idle()
        assert running["most"] == 2
    finally:
        BLOCK_HANDLERS.set()
        d.close()


def test_a_job_put_back_after_a_failed_start_wakes_an_idle_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found in review: between taking a job for a new thread and putting it back when
    the thread cannot start, a busy thread can finish and go idle; nothing woke it, so
    the job waited for some unrelated later message."""
    pool = Workers(2, "test")
    release, ran = threading.Event(), threading.Event()
    pool.submit("a", release.wait, 10)  # the one running thread, busy until released
    real_start = threading.Thread.start

    def refuse_once_the_other_thread_is_idle(self: threading.Thread) -> None:
        release.set()
        for _ in range(500):
            with pool._cv:
                if pool._idle:
                    break
            threading.Event().wait(0.01)
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse_once_the_other_thread_is_idle)
    pool.submit("b", ran.set)
    monkeypatch.setattr(threading.Thread, "start", real_start)
    assert ran.wait(5)
    pool.shutdown()
