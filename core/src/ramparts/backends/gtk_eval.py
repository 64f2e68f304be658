"""Internal. ``ramparts dev --eval`` on WebKitGTK: a page script run in a window, its
outcome polled."""

from __future__ import annotations

import json
import secrets
import time
from importlib.resources import files
from typing import Any

import gi

gi.require_version("WebKit2", "4.1")
gi.require_version("JavaScriptCore", "4.1")
from gi.repository import GLib, WebKit2  # noqa: E402

from ramparts.backends import EvalResult  # noqa: E402
from ramparts.backends.pywebview_windows import close_forced, eval_poll_ms  # noqa: E402

__all__ = ["start_eval"]


def _wrapped(source: str, slot: str) -> str:
    """``source`` as the body of an async function whose outcome lands in ``slot``."""
    template = (files("ramparts.bridge") / "js" / "eval.js").read_text(encoding="utf-8")
    return template.replace("__RAMPARTS_SLOT__", json.dumps(slot)).replace(
        "__RAMPARTS_SOURCE__", source
    )


def _run(view: Any, script: str, then: Any) -> None:
    """Evaluate ``script`` in the page's main world; ``then`` gets its value as a string
    (``None`` if it threw)."""

    def done(view: Any, result: Any) -> None:
        try:
            value = view.evaluate_javascript_finish(result)
        except GLib.Error:
            then(None)
            return
        then(value.to_string() if value.is_string() else None)

    view.evaluate_javascript(script, -1, None, None, None, done)


class _Eval:
    """One ``--eval`` run: the script, its deadline, and where it stands (GUI thread)."""

    def __init__(
        self, window: Any, view: Any, source: str, timeout: float, result: EvalResult
    ) -> None:
        self.window, self.view, self.timeout, self.result = window, view, timeout, result
        self.slot = "__ramparts_eval_" + secrets.token_hex(8)
        self.wrapper = _wrapped(source, self.slot)
        self.started = self.done = self.rerun = False
        self.t0, self.interval = 0.0, 0

    def finish(self) -> None:
        self.done = True
        close_forced(self.window)  # the eval is over: no handler may keep the window

    def check(self, value: str | None) -> None:
        data = json.loads(value) if value else None
        if self.done:
            return
        r = self.result
        if data:
            r.ok, r.value, r.error = data["ok"], data.get("value"), data.get("error")
            self.finish()

    def expire(self) -> bool:
        """The deadline, kept by a GLib timer: a frozen page never answers a poll."""
        if not self.done:
            self.result.timed_out = True
            self.result.error = f"the script did not settle within {self.timeout:g} s"
            self.finish()
        return False

    def poll(self) -> bool:
        if self.done:
            return False
        _run(self.view, f"JSON.stringify(window[{json.dumps(self.slot)}] || null)", self.check)
        interval = eval_poll_ms(time.monotonic() - self.t0)
        if interval == self.interval:
            return True
        self.interval = interval
        GLib.timeout_add(interval, self.poll)  # this timer ends; one at the new pace
        return False

    def ran(self, value: str | None) -> None:
        if value != "started" and not self.done:
            self.result.error = "the script did not start (a syntax error? see the console lines)"
            self.finish()

    def load_changed(self, _view: Any, event: Any) -> None:
        if event == WebKit2.LoadEvent.STARTED and self.started and not self.done:
            # WebKit finishes a load even when the page's own script has asked for
            # another (a reload as it starts): the script ran in a page that is going,
            # so it runs again in the one that stays, within the same deadline.
            self.rerun = True
            return
        if event != WebKit2.LoadEvent.FINISHED or self.done:
            return
        if self.started and not self.rerun:
            return
        self.rerun = False
        if not self.started:
            self.started = True
            GLib.timeout_add(int(self.timeout * 1000), self.expire)
            self.t0, self.interval = time.monotonic(), eval_poll_ms(0)
            GLib.timeout_add(self.interval, self.poll)
        _run(self.view, self.wrapper, self.ran)

    def load_timeout(self) -> bool:
        if not self.started and not self.done:
            self.result.timed_out = True
            self.result.error = "the page did not load"
            self.finish()
        return False


def start_eval(window: Any, view: Any, source: str, timeout: float, result: EvalResult) -> None:
    """Run ``source`` once ``view`` has loaded; fill in ``result`` and destroy the
    pywebview ``window`` when it settles, fails to start, or times out (GUI thread)."""
    run = _Eval(window, view, source, timeout, result)
    view.connect("load-changed", run.load_changed)
    GLib.timeout_add(int(timeout * 1000) + 2000, run.load_timeout)
