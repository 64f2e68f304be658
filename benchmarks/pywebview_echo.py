"""The baseline: a plain pywebview app (``js_api``, no Ramparts), on Qt or GTK.

Run by ``bridge.py`` in its own process (one ``webview.start()`` per process)::

    python benchmarks/pywebview_echo.py SCRIPT.js TIMEOUT [GUI]

``GUI`` is pywebview's ``gui=`` (``qt``, the default, or ``gtk``: WebKitGTK, which needs
an X display).

``SCRIPT.js`` is the body of an async function, run by an inline page script once
``pywebview.api.echo`` exists (pywebview injects its bridge only after the page has
loaded). The outcome lands in a page global that Python polls every 20 ms (as
``ramparts dev --eval`` does), so no bridge call is in flight when the window closes.
The script's return value is printed on stdout as one JSON line; a failure or a timeout
exits non-zero with the reason on stderr.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Literal

import webview

#: Waits for pywebview's bridge, runs the script, leaves the outcome (JSON) in a global.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>pywebview echo</title></head>
<body><p>pywebview js_api baseline</p>
<script>
(async () => {
  while (!(window.pywebview && window.pywebview.api && window.pywebview.api.echo)) {
    await new Promise((r) => setTimeout(r, 10));
  }
  return await (async () => {
__SOURCE__
  })();
})().then(
  (v) => ({ ok: true, value: v === undefined ? null : v }),
  (e) => ({ ok: false, error: String((e && e.stack) || e) }),
).then((outcome) => { window.__benchOutcome = JSON.stringify(outcome); });
</script></body></html>
"""


POLL_SECONDS = 0.02


#: The window, for ``Api.burst`` (not an attribute of Api: pywebview would expose it).
WINDOW: Any = None


class Api:
    """What the page reaches through ``pywebview.api``."""

    def echo(self, x: Any) -> Any:
        return x

    def burst(self, n: int) -> int:
        """Python -> page events, pywebview's way: ``evaluate_js`` into a page handler."""
        for i in range(n):
            WINDOW.evaluate_js(f"window.__benchTick({i})")
        return n


def main() -> int:
    script, timeout = Path(sys.argv[1]).read_text(encoding="utf-8"), float(sys.argv[2])
    gui: Literal["qt", "gtk"] = "gtk" if sys.argv[3:] == ["gtk"] else "qt"
    # html= loads the page with setHtml: pywebview starts no HTTP server.
    window = webview.create_window(
        "pywebview echo", html=PAGE.replace("__SOURCE__", script), js_api=Api()
    )
    if window is None:
        print("pywebview could not create a window", file=sys.stderr)
        return 1
    global WINDOW
    WINDOW = window
    outcome: dict[str, Any] = {}

    def poll_then_close() -> None:
        deadline = time.monotonic() + timeout
        window.events.loaded.wait(timeout)
        while time.monotonic() < deadline:
            found = window.evaluate_js("window.__benchOutcome || null")
            if found:
                outcome.update(json.loads(found))
                break
            time.sleep(POLL_SECONDS)
        window.destroy()

    webview.start(poll_then_close, gui=gui, private_mode=True)
    if not outcome:
        print(f"the script did not settle within {timeout:g} s", file=sys.stderr)
        return 2
    if not outcome["ok"]:
        print(outcome["error"], file=sys.stderr)
        return 1
    print(json.dumps(outcome["value"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
