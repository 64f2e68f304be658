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

__all__ = ["start_eval"]

#: How often the page's result slot is read, in milliseconds.
_POLL_MS = 20


#: eval.js reports an error by its ``stack``, which on JavaScriptCore holds only the
#: frames, not the error's name and message: those go first here.
_STACK = "String((e && e.stack) || e)"
_MESSAGE_AND_STACK = '(String(e) + (e && e.stack ? "\\n" + e.stack : ""))'


def _wrapped(source: str, slot: str) -> str:
    """``source`` as the body of an async function whose outcome lands in ``slot``."""
    template = (files("ramparts.bridge") / "js" / "eval.js").read_text(encoding="utf-8")
    assert _STACK in template, "eval.js no longer reports errors as this module expects"
    return (
        template.replace(_STACK, _MESSAGE_AND_STACK)
        .replace("__RAMPARTS_SLOT__", json.dumps(slot))
        .replace("__RAMPARTS_SOURCE__", source)
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


def start_eval(window: Any, view: Any, source: str, timeout: float, result: EvalResult) -> None:
    """Run ``source`` once ``view`` has loaded; fill in ``result`` and destroy the
    pywebview ``window`` when it settles, fails to start, or times out (GUI thread)."""
    slot = "__ramparts_eval_" + secrets.token_hex(8)
    wrapper = _wrapped(source, slot)
    deadline = float("inf")  # set when the page has loaded
    state = {"started": False, "done": False}

    def finish() -> None:
        state["done"] = True
        window.destroy()

    def check(value: str | None) -> None:
        data = json.loads(value) if value else None
        if state["done"]:
            return
        if data:
            result.ok = data["ok"]
            result.value = data.get("value")
            result.error = data.get("error")
            finish()
        elif time.monotonic() > deadline:
            result.timed_out = True
            result.error = f"the script did not settle within {timeout:g} s"
            finish()

    def poll() -> bool:
        if not state["done"]:
            _run(view, f"JSON.stringify(window[{json.dumps(slot)}] || null)", check)
        return not state["done"]

    def ran(value: str | None) -> None:
        if value != "started":
            result.error = "the script did not start (a syntax error? see the console lines)"
            finish()

    def loaded(_view: Any, event: Any) -> None:
        nonlocal deadline
        if event == WebKit2.LoadEvent.STARTED and state["started"] and not state["done"]:
            # WebKit finishes a load even when the page's own script has asked for
            # another (a reload as it starts): the script ran in a page that is going,
            # so it runs again in the one that stays, within the same deadline.
            state["rerun"] = True
            return
        if event != WebKit2.LoadEvent.FINISHED or state["done"]:
            return
        if state["started"] and not state.pop("rerun", False):
            return
        if not state["started"]:
            state["started"] = True
            deadline = time.monotonic() + timeout
            GLib.timeout_add(_POLL_MS, poll)
        _run(view, wrapper, ran)

    def load_timeout() -> bool:
        if not state["started"] and not state["done"]:
            result.timed_out = True
            result.error = "the page did not load"
            finish()
        return False

    view.connect("load-changed", loaded)
    GLib.timeout_add(int(timeout * 1000) + 2000, load_timeout)
