"""HandlerThread: the app's menu and window event handlers run in order, off the
calling thread, and one that raises is logged without stopping the others."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

import pytest

from ramparts.desktop.handlers import HandlerThread


def test_handlers_run_in_order_on_their_thread_and_a_failure_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: queue.SimpleQueue[tuple[str, int, str]] = queue.SimpleQueue()
    app: Any = object()

    def first(got_app: object, event: int) -> None:
        assert got_app is app
        seen.put(("first", event, threading.current_thread().name))
        if event == 2:
            raise RuntimeError("boom")

    def second(_: object, event: int) -> None:
        seen.put(("second", event, threading.current_thread().name))

    runner = HandlerThread(app, (first, second), "test-handlers", "test")
    with caplog.at_level(logging.ERROR, logger="ramparts.desktop"):
        for event in (1, 2, 3):
            runner.put(event)
        got = [seen.get(timeout=10) for _ in range(6)]
    assert [(who, n) for who, n, _ in got] == [
        ("first", 1), ("second", 1), ("first", 2), ("second", 2), ("first", 3), ("second", 3),
    ]  # fmt: skip
    assert {thread for *_, thread in got} == {"test-handlers"}
    assert "the test handler" in caplog.text and "first failed" in caplog.text
    assert runner.call(first, 2) is None  # the answer of a handler that raised


def test_no_handlers_no_thread() -> None:
    before = threading.active_count()
    HandlerThread(object(), (), "idle-handlers", "test").put(1)  # type: ignore[arg-type]
    assert threading.active_count() == before
