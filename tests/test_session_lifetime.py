"""A page's work ends with the page: ``session.resources`` and what the dispatcher ties to
it (queued calls, running async commands, their blocking work), without a webview.

The real-webview side (shell children, dialogs, windows) is in ``test_shell_webview.py``,
``test_dialog_webview.py`` and ``test_windows_webview.py``.
"""

from __future__ import annotations

import asyncio
import json
import math
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from ramparts.bridge.dispatch import Dispatcher
from ramparts.bridge.protocol import sign_channel
from ramparts.bridge.session import Registry, Route, SessionEnded, SessionResources, WindowSession
from ramparts.commands import CallContext, as_command, command

# -- SessionResources ------------------------------------------------------------------


def test_resources_are_released_once_newest_first_unless_dropped() -> None:
    res = SessionResources()
    released: list[str] = []
    res.hold(lambda: released.append("a"))
    dropped = res.hold(lambda: released.append("dropped"))
    res.hold(lambda: released.append("b"))
    dropped.drop()
    assert len(res) == 2
    res.end()
    res.end()
    assert released == ["b", "a"]
    assert res.ended.is_set() and len(res) == 0


def test_holding_after_the_end_releases_at_once_and_refuses() -> None:
    res = SessionResources()
    res.end()
    released: list[str] = []
    with pytest.raises(SessionEnded) as e:
        res.hold(lambda: released.append("late"))
    assert e.value.code == "not_allowed"
    assert released == ["late"]  # the caller's resource is not left behind
    with pytest.raises(SessionEnded), res.opening():
        pass


def test_a_failing_release_does_not_keep_the_others_from_running() -> None:
    res = SessionResources()
    released: list[str] = []
    res.hold(lambda: released.append("first"))
    res.hold(lambda: 1 / 0)
    res.end()
    assert released == ["first"]


def test_the_end_waits_for_a_resource_being_opened_and_releases_it() -> None:
    """The race of issue 14: a child started while the page goes away. The end must
    neither miss it nor let it start afterwards."""
    res = SessionResources()
    inside, go_on = threading.Event(), threading.Event()
    released: list[str] = []

    def opener() -> None:
        with res.opening():
            inside.set()
            go_on.wait(10)
            res.hold(lambda: released.append("opened during the end"))

    t = threading.Thread(target=opener)
    t.start()
    assert inside.wait(10)
    ender = threading.Thread(target=res.end)
    ender.start()
    assert res.ended.wait(10)  # in-flight work is told at once...
    with pytest.raises(SessionEnded), res.opening():  # ...nothing new may start...
        pass
    assert ender.is_alive()  # ...and the end waits for the one being opened
    go_on.set()
    t.join(10)
    ender.join(10)
    assert released == ["opened during the end"]


def test_ending_from_inside_an_opening_on_the_same_thread_does_not_deadlock() -> None:
    res = SessionResources()
    released: list[str] = []
    with pytest.raises(SessionEnded), res.opening():
        res.end()  # say, a maker whose failure closes the page
        res.hold(lambda: released.append("made"))
    assert released == ["made"]


def test_closing_a_session_releases_its_resources() -> None:
    session = WindowSession("main", Registry(), "per-session", lambda t: None)
    released: list[str] = []
    session.resources.hold(lambda: released.append("child"))
    session.close()
    assert session.ended.is_set() and released == ["child"]


# -- the dispatcher --------------------------------------------------------------------

GATE = threading.Event()
RAN: queue.Queue[str] = queue.Queue()
CANCELLED: queue.Queue[str] = queue.Queue()
BLOCKING_STARTED = threading.Semaphore(0)


@command(timeout=math.inf)
def block(tag: str) -> None:
    RAN.put(tag)
    GATE.wait(30)


@command(timeout=math.inf)
async def wait_forever(tag: str) -> None:
    RAN.put(tag)
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        CANCELLED.put(tag)
        raise


def _blocking(tag: str) -> str:
    RAN.put(tag)
    BLOCKING_STARTED.release()
    GATE.wait(30)
    return tag


@command(timeout=math.inf)
async def offload(tag: str) -> str:
    """Blocking work done the asyncio way: on the loop's default executor."""
    return await asyncio.to_thread(_blocking, tag)


@command(timeout=math.inf)
def until_page_gone(ctx: CallContext) -> None:
    """A sync command cannot be stopped by Python: it is told, through ``ctx.ended``."""
    RAN.put("watching")
    if ctx.ended.wait(30):
        CANCELLED.put("told")


@command
def clicked_count() -> int:
    return len(CLICKS)


CLICKS: list[Any] = []


def _registry() -> Registry:
    reg = Registry(ui_events=frozenset({"clicked"}), event_handlers={"clicked": (CLICKS.append,)})
    for f in (block, wait_forever, offload, until_page_gone, clicked_count):
        cmd = as_command(f)
        assert cmd is not None
        reg.add(Route(cmd.name, None, cmd, None))
    return reg


class Page:
    """Signs messages as the bootstrap does; collects replies by callback id."""

    def __init__(self, registry: Registry | None = None) -> None:
        self.replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self.session = WindowSession(
            "main",
            registry or _registry(),
            "per-session",
            lambda t: self.replies.put(json.loads(t)),
        )
        self.seq = 0

    def send(self, d: Dispatcher, name: str, args: Any) -> str:
        self.seq += 1
        h = self.session.initial_handles[name][0]
        header = {"s": self.seq, "h": h, "c": f"c{self.seq}", "a": args}
        d.channel_message(self.session, sign_channel(self.session.key, json.dumps(header)))
        return f"c{self.seq}"

    def event(self, d: Dispatcher, name: str, payload: Any) -> None:
        self.seq += 1
        header = {"s": self.seq, "e": name, "p": payload}
        d.channel_message(self.session, sign_channel(self.session.key, json.dumps(header)))


def _drain(q: queue.Queue[str]) -> list[str]:
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


@pytest.fixture
def gate() -> Iterator[None]:
    GATE.clear()
    _drain(RAN)
    _drain(CANCELLED)
    while BLOCKING_STARTED.acquire(blocking=False):
        pass
    yield
    GATE.set()


def _wait(cond: Any, seconds: float = 10) -> bool:
    end = threading.Event()
    for _ in range(int(seconds * 100)):
        if cond():
            return True
        end.wait(0.01)
    return bool(cond())


def test_calls_queued_behind_busy_workers_are_dropped_when_the_session_ends(gate: None) -> None:
    """Found on main: a call waiting for its session's next free worker stayed queued
    (and counted in flight) until a worker freed up, however long that took."""
    d = Dispatcher(command_timeout=30, workers=4, session_workers=1)
    page = Page()
    try:
        page.send(d, "block", {"tag": "running"})
        assert RAN.get(timeout=10) == "running"
        for n in range(3):
            page.send(d, "block", {"tag": f"queued{n}"})
        assert _wait(lambda: d.in_flight == 4)  # verified, waiting in the session's lane
        page.session.close()
        assert d.in_flight == 1  # the queued three were answered at once, unrun
        GATE.set()
        assert d.wait_idle()
        assert _drain(RAN) == []
    finally:
        d.close()


def test_async_commands_in_flight_are_cancelled_when_the_session_ends(gate: None) -> None:
    d = Dispatcher(command_timeout=30)
    page = Page()
    try:
        page.send(d, "wait_forever", {"tag": "a"})
        assert RAN.get(timeout=10) == "a"
        page.session.close()
        assert CANCELLED.get(timeout=10) == "a"
        assert d.wait_idle()
    finally:
        d.close()


def test_a_running_sync_command_is_told_that_its_page_has_gone(gate: None) -> None:
    d = Dispatcher(command_timeout=30)
    page = Page()
    try:
        page.send(d, "until_page_gone", {})
        assert RAN.get(timeout=10) == "watching"
        page.session.close()
        assert CANCELLED.get(timeout=10) == "told"
        assert d.wait_idle()
    finally:
        d.close()


def test_one_sessions_blocking_async_work_does_not_starve_anothers(gate: None) -> None:
    """Found on main: asyncio's default executor (a few threads, one FIFO queue) ran the
    blocking work of every window's async commands; one page's slow work delayed
    another's ``http.fetch``. Each session now gets its own share of threads."""
    d = Dispatcher(command_timeout=30, async_workers=8, async_share=2)
    a, b = Page(), Page()
    try:
        for n in range(40):  # more than any default executor has threads
            a.send(d, "offload", {"tag": f"a{n}"})
        assert BLOCKING_STARTED.acquire(timeout=10) and BLOCKING_STARTED.acquire(timeout=10)
        b.send(d, "offload", {"tag": "b"})
        assert _wait(lambda: "b" in list(RAN.queue)), "window B waited behind window A"
        started = sorted(RAN.queue)
        assert len(started) == 3 and started[-1] == "b"  # A holds its share of 2, no more
    finally:
        a.session.close()  # A's 38 queued jobs are dropped, not run into the next test
        b.session.close()
        GATE.set()
        d.close()


def test_blocking_work_still_queued_when_the_session_ends_never_runs(gate: None) -> None:
    d = Dispatcher(command_timeout=30, async_workers=8, async_share=2)
    page = Page()
    try:
        for n in range(6):
            page.send(d, "offload", {"tag": f"t{n}"})
        assert BLOCKING_STARTED.acquire(timeout=10) and BLOCKING_STARTED.acquire(timeout=10)
        page.session.close()
        GATE.set()
        assert d.wait_idle()
        assert _wait(lambda: len(RAN.queue) >= 2)
        threading.Event().wait(0.5)  # time for a queued job that wrongly survived to start
        ran = _drain(RAN)
        assert len(ran) == 2, ran  # the two that held the session's share
    finally:
        d.close()


def test_a_window_without_app_commands_cannot_trigger_app_event_handlers() -> None:
    """Found on main: ``app_commands = false`` removed the app's commands from a window
    but its page could still run the app's ``@on`` handlers with its payloads."""
    full = _registry()
    narrow = full.for_window([], app_commands=False)
    assert narrow.ui_events == frozenset() and dict(narrow.event_handlers) == {}
    assert full.for_window([], app_commands=True).event_handlers == full.event_handlers
    d = Dispatcher(command_timeout=30)
    CLICKS.clear()
    try:
        page = Page(narrow)
        page.event(d, "clicked", {"from": "narrow"})
        assert d.wait_idle()
        assert page.session.stats["undeclared-event"] == 1
        wide = Page(full.for_window([], app_commands=True))
        wide.event(d, "clicked", {"from": "wide"})
        assert _wait(lambda: CLICKS == [{"from": "wide"}])
    finally:
        d.close()


# -- the dialog capability -------------------------------------------------------------


class _Window:
    """Stands for a window's :class:`~ramparts.bridge.host.WindowHost`: what sessions share."""


def test_a_reloaded_page_cannot_open_a_second_dialog_while_the_first_is_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One dialog per window, not per session: a reload is a new session of the same
    window (the webview side is ``test_dialog_webview.py``)."""
    import ramparts_dialog
    from ramparts.errors import CommandFailed

    showing, close = threading.Event(), threading.Event()

    def shown_until_closed(*args: Any) -> str:
        showing.set()
        close.wait(30)
        return "ok"

    monkeypatch.setattr(ramparts_dialog, "_show_message_box", shown_until_closed)
    window = _Window()
    outcomes: queue.Queue[str] = queue.Queue()

    def ask(session: WindowSession) -> None:
        ctx = CallContext("dialog", "message", "main", None, session)
        try:
            ramparts_dialog.message(ctx, text="hello")
            outcomes.put("shown")
        except CommandFailed as e:
            outcomes.put(str((e.data or {}).get("reason")))

    first = WindowSession("main", Registry(), "per-session", lambda t: None, host=window)
    t = threading.Thread(target=ask, args=(first,))
    t.start()
    try:
        assert showing.wait(10)
        first.close()  # the page reloads: a new session of the same window
        second = WindowSession("main", Registry(), "per-session", lambda t: None, host=window)
        threading.Thread(target=ask, args=(second,), daemon=True).start()
        assert outcomes.get(timeout=10) == "busy"
    finally:
        close.set()
        t.join(10)


# -- the shell capability's children -----------------------------------------------------


def _exits(proc: Any) -> bool:
    return _wait(proc.exited, 10)


def test_a_terminated_child_gets_sigterm_first_then_sigkill_after_the_grace(
    tmp_path: Any,
) -> None:
    """A session's end terminates its children: SIGTERM to the group (they may clean
    up), SIGKILL once the grace is over for whatever ignored it."""
    from ramparts_shell.process import Proc

    cleaned = tmp_path / "cleaned"
    polite = Proc.start(
        ["/bin/sh", "-c", f"trap 'touch {cleaned}; exit 0' TERM; echo ready; sleep 1000 & wait"],
        {},
        "/",
        pipe_stdin=False,
    )
    stubborn = Proc.start(
        ["/bin/sh", "-c", "trap '' TERM; echo ready; sleep 1000"], {}, "/", pipe_stdin=False
    )
    try:
        for proc in (polite, stubborn):  # each has set its trap
            assert proc.popen.stdout is not None and proc.popen.stdout.readline() == b"ready\n"
        polite.terminate(grace=30)
        stubborn.terminate(grace=0.2)
        assert _exits(polite) and _exits(stubborn)
        assert polite.reap() == 0 and cleaned.exists()
        assert stubborn.reap() == -9
    finally:
        polite.reap()
        stubborn.reap()
