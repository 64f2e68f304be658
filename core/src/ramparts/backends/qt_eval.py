"""``ramparts dev --eval`` on Qt: a page script run in a window, its outcome polled."""

from __future__ import annotations

import json
import secrets
import time
from importlib.resources import files
from typing import Any

from PyQt6.QtCore import QTimer
from PyQt6.QtWebEngineCore import QWebEnginePage

from ramparts.backends import EvalResult
from ramparts.backends.pywebview_windows import close_forced, eval_poll_ms

__all__ = ["start_eval"]


def _wrapped(source: str, slot: str) -> str:
    """``source`` as the body of an async function whose outcome lands in ``slot``."""
    return (
        (files("ramparts.bridge") / "js" / "eval.js")
        .read_text(encoding="utf-8")
        .replace("__RAMPARTS_SLOT__", json.dumps(slot))
        .replace("__RAMPARTS_SOURCE__", source)
    )


def start_eval(
    window: Any, page: QWebEnginePage, source: str, timeout: float, result: EvalResult
) -> None:
    """Run ``source`` once ``page`` has loaded; fill in ``result`` and destroy the
    pywebview ``window`` when it settles, fails to start, or times out (GUI thread)."""
    slot = "__ramparts_eval_" + secrets.token_hex(8)
    wrapper = _wrapped(source, slot)
    started = done = False
    timer = QTimer(page)
    t0 = 0.0

    def finish() -> None:
        nonlocal done
        done = True
        timer.stop()
        close_forced(window)  # the eval is over: no handler may keep the window

    def check(value: Any) -> None:
        data = json.loads(value) if isinstance(value, str) else None
        if data and not done:
            result.ok, result.value, result.error = data["ok"], data.get("value"), data.get("error")
            finish()

    def expire() -> None:
        # Kept by a Qt timer, not by the polls: a page that never yields answers none.
        if not done:
            result.timed_out = True
            result.error = f"the script did not settle within {timeout:g} s"
            finish()

    def poll() -> None:
        timer.setInterval(eval_poll_ms(time.monotonic() - t0))
        page.runJavaScript(f"JSON.stringify(window[{json.dumps(slot)}] || null)", 0, check)

    def ran(value: Any) -> None:
        if value != "started" and not done:
            result.error = "the script did not start (a syntax error? see the console lines)"
            finish()

    def loaded(ok: bool) -> None:
        nonlocal started, t0
        if started:
            return
        started, t0 = True, time.monotonic()
        QTimer.singleShot(int(timeout * 1000), expire)
        page.runJavaScript(wrapper, 0, ran)
        timer.timeout.connect(poll)
        timer.start(eval_poll_ms(0))

    def load_timeout() -> None:
        if not started and not done:
            result.timed_out = True
            result.error = "the page did not load"
            finish()

    page.loadFinished.connect(loaded)
    QTimer.singleShot(int(timeout * 1000) + 2000, load_timeout)
