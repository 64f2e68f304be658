"""Per-window capabilities in real windows: each window gets handles only for its own
commands, under its own session key, and run-time grants stay where they were made."""

from __future__ import annotations

import json
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import REPORT_COMMANDS, read_keylog, write_app

from ramparts.bridge.protocol import sign_binary
from ramparts.testing import eval_in_app

pytestmark = [pytest.mark.webview, pytest.mark.usefixtures("engine")]

COMMANDS = REPORT_COMMANDS

SECOND_JS = """
(async () => {
  const out = { sampleType: typeof ramparts.sample, windowType: typeof ramparts.window };
  out.echo = await ramparts.sample.echo({ value: "from second" });
  out.granted = await ramparts.sample.grant({ path: document.body.dataset.file || "" }).catch((e) => e.code);
  out.openOther = await ramparts.invoke("window.open", { label: "main" }).catch((e) => e.code);
  await ramparts.invoke("report", { value: out });
})();
"""


def windows_app(root: Path, secret: Path) -> Path:
    caps = textwrap.dedent(
        """
        [tool.ramparts.capabilities.window]
        allow = ["open"]
        labels = ["second"]
        [tool.ramparts.capabilities.sample]
        allow = ["echo", "grant"]
        [tool.ramparts.capabilities.fs]
        allow = ["read_text"]
        [tool.ramparts.capabilities.fs.scope]
        allow = []
        [[tool.ramparts.windows]]
        label = "main"
        capabilities = ["window", "fs"]
        [[tool.ramparts.windows]]
        label = "second"
        entry = "second.html"
        capabilities = ["sample", "fs"]
        """
    )
    second_html = (
        "<!doctype html><html><head><script src='second.js' defer></script></head>"
        f"<body data-file='{secret}'>second</body></html>"
    )
    return write_app(
        root,
        capabilities=caps,
        commands=COMMANDS,
        module="windows_cmds",
        files={"second.html": second_html, "second.js": SECOND_JS},
    )


def test_window_b_commands_and_grants_stay_in_window_b(tmp_path: Path) -> None:
    secret = tmp_path / "granted.txt"
    secret.write_text("only for the second window")
    app_dir = windows_app(tmp_path / "app", secret)
    keylog = tmp_path / "keys.log"
    drop = app_dir / "ui" / "__messages.json"
    stop = threading.Event()

    def forge() -> None:
        """Once both windows have sessions, sign B's handle with A's key (and with B's)."""
        while not stop.is_set():
            entries = {e["window"]: e for e in read_keylog(keylog)}
            if {"main", "second"} <= set(entries):
                a, b = entries["main"], entries["second"]
                b_handle = b["handles"]["sample.echo"][0]
                msgs = {
                    "aKeyBHandle": sign_binary(
                        bytes.fromhex(a["key"]),
                        {"s": 10**6, "h": b_handle, "c": "x", "a": {"value": 1}},
                    ),
                    "bKeyBHandle": sign_binary(
                        bytes.fromhex(b["key"]),
                        {"s": 10**6 + 1, "h": b_handle, "c": "y", "a": {"value": 1}},
                    ),
                }
                tmp = drop.with_suffix(".tmp")
                tmp.write_text(json.dumps({k: v.hex() for k, v in msgs.items()}))
                tmp.replace(drop)
                return
            stop.wait(0.02)

    thread = threading.Thread(target=forge)
    thread.start()
    try:
        result: dict[str, Any] = eval_in_app(
            app_dir,
            f"""
            const out = {{ sampleType: typeof ramparts.sample, keys: Object.keys(ramparts).sort() }};
            out.echoFromA = await ramparts.invoke("sample.echo", {{ value: 1 }}).catch((e) => e.code);
            out.opened = await ramparts.window.open({{ label: "second" }});
            out.notListed = await ramparts.window.open({{ label: "main2" }}).catch((e) => e.code);
            let reports = [];
            while (!reports.length) {{
              reports = await ramparts.invoke("reports");
              await new Promise((r) => setTimeout(r, 20));
            }}
            out.second = reports[0];
            out.readInA = await ramparts.fs.read_text({{ path: {json.dumps(str(secret))} }}).catch((e) => e.code);
            let messages;
            for (;;) {{
              const r = await fetch("/__messages.json").catch(() => null);
              if (r && r.ok) {{ messages = await r.json(); break; }}
              await new Promise((res) => setTimeout(res, 20));
            }}
            const post = async (name) => {{
              const body = new Uint8Array(messages[name].match(/../g).map((h) => parseInt(h, 16)));
              const r = await fetch("/.ramparts/ipc?n=" + body.length, {{ method: "POST", body }});
              if (r.status !== 200) return r.status;
              const buf = await r.arrayBuffer();
              const n = new DataView(buf).getUint32(0);
              return JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n))).e.code;
            }};
            out.aKeyBHandle = await post("aKeyBHandle");
            out.bKeyBHandle = await post("bKeyBHandle");
            return out;
            """,
            env={"RAMPARTS_KEYLOG": str(keylog)},
            timeout=60,
        )
    finally:
        stop.set()
        thread.join()
    # Window A has no handle for B's capability, in the API or on the wire.
    assert result["sampleType"] == "undefined"
    assert result["keys"] == ["Error", "events", "fs", "invoke", "stats", "window"]
    assert result["echoFromA"] == "not_allowed"
    assert result["opened"] is None and result["notListed"] == "not_allowed"
    # Window B works with its own capabilities and not with A's.
    second = result["second"]
    assert second["sampleType"] == "object" and second["windowType"] == "undefined"
    assert second["echo"] == "from second"
    assert second["granted"] == str(secret)
    assert second["openOther"] == "not_allowed"
    # B's grant does not reach A; B's handles do not work in A, under either key.
    assert result["readInA"] == "out_of_scope"
    assert result["aKeyBHandle"] == "not_allowed"
    assert result["bKeyBHandle"] == 403
    sessions = {e["window"]: e for e in read_keylog(keylog)}
    assert sessions["main"]["key"] != sessions["second"]["key"]


OPENER = """
from typing import Any
from ramparts import CallContext, command

REPORTS: list[Any] = []

@command
def open_from_python(ctx: CallContext, label: str) -> str:
    try:
        ctx.app.open_window(label)
    except KeyError:
        return "no such window"
    return "opened"

@command
def open_from_gui_thread(ctx: CallContext, label: str) -> str:
    # As a Qt callback (a tray menu, a timer) would: on the GUI thread, after start.
    ctx.app._backend.call_soon(lambda: ctx.app.open_window(label))
    return "asked"

@command
def report(ctx: CallContext, value: Any) -> None:
    REPORTS.append({"window": ctx.window, "value": value})

@command
def reports() -> list[Any]:
    return REPORTS
"""


def opener_app(root: Path, second_js: str, commands: str = OPENER) -> Path:
    """Two windows with no capabilities: ``main`` opens ``second`` through an app command."""
    caps = textwrap.dedent(
        """
        [[tool.ramparts.windows]]
        label = "main"
        capabilities = []
        [[tool.ramparts.windows]]
        label = "second"
        entry = "second.html"
        capabilities = []
        """
    )
    return write_app(
        root,
        capabilities=caps,
        commands=commands,
        module="opener_cmds",
        files={
            "second.html": "<!doctype html><script src='second.js'></script>",
            "second.js": second_js,
        },
    )


def test_python_opens_a_declared_window_without_the_window_capability(tmp_path: Path) -> None:
    """An app command opens a window through ``ctx.app.open_window``; the page that asked
    holds no ``window`` capability, and an undeclared label opens nothing."""
    app_dir = opener_app(
        tmp_path / "app", "ramparts.invoke('report', { value: Object.keys(ramparts).sort() });\n"
    )
    result = eval_in_app(
        app_dir,
        """
        const out = { windowType: typeof ramparts.window };
        out.unknown = await ramparts.invoke("open_from_python", { label: "nope" });
        out.opened = await ramparts.invoke("open_from_python", { label: "second" });
        let reports = [];
        while (!reports.length) {
          reports = await ramparts.invoke("reports");
          await new Promise((r) => setTimeout(r, 20));
        }
        out.reports = reports;
        return out;
        """,
        timeout=60,
    )
    assert result["windowType"] == "undefined"
    assert result["unknown"] == "no such window"
    assert result["opened"] == "opened"
    assert result["reports"] == [
        {"window": "second", "value": ["Error", "events", "invoke", "stats"]}
    ]


def test_open_window_from_the_gui_thread_after_start(tmp_path: Path) -> None:
    """pywebview only queues a window asked for on the main thread once start() runs;
    ``open_window`` called there (from a Qt callback) must still open it."""
    app_dir = opener_app(tmp_path / "app", "ramparts.invoke('report', { value: 'up' });\n")
    result = eval_in_app(
        app_dir,
        """
        const asked = await ramparts.invoke("open_from_gui_thread", { label: "second" });
        let reports = [];
        for (let i = 0; i < 500 && !reports.length; i++) {
          reports = await ramparts.invoke("reports");
          await new Promise((r) => setTimeout(r, 20));
        }
        return { asked, reports };
        """,
        timeout=60,
    )
    assert result == {"asked": "asked", "reports": [{"window": "second", "value": "up"}]}


RELOADER_JS = """
(async () => {
  const path = document.body.dataset.file;
  const read = () => ramparts.fs.read_text({ path }).then((text) => text, (e) => e.code);
  if (!sessionStorage.getItem("reloaded")) {
    const before = await read();
    const granted = await ramparts.sample.grant({ path });
    const after = await read();
    await ramparts.invoke("report", { value: { before, granted, after } });
    sessionStorage.setItem("reloaded", "1");
    location.reload();
  } else {
    await ramparts.invoke("report", { value: { afterReload: await read() } });
  }
})();
"""


def test_grants_die_on_reload(tmp_path: Path) -> None:
    """A run-time grant belongs to one session: after a reload, the path is out of scope.

    The reloading page is a second window, so the test's script (in the main window)
    outlives the reload and collects what the page reported before and after it.
    """
    secret = tmp_path / "granted.txt"
    secret.write_text("granted once")
    caps = textwrap.dedent(
        """
        [tool.ramparts.capabilities.sample]
        allow = ["grant"]
        [tool.ramparts.capabilities.fs]
        allow = ["read_text"]
        [tool.ramparts.capabilities.fs.scope]
        allow = []
        [[tool.ramparts.windows]]
        label = "main"
        capabilities = []
        [[tool.ramparts.windows]]
        label = "second"
        entry = "second.html"
        capabilities = ["sample", "fs"]
        start = true
        """
    )
    app_dir = write_app(
        tmp_path / "app",
        capabilities=caps,
        commands=COMMANDS,
        module="reload_cmds",
        files={
            "second.html": (
                "<!doctype html><html><head><script src='second.js' defer></script></head>"
                f"<body data-file='{secret}'>second</body></html>"
            ),
            "second.js": RELOADER_JS,
        },
    )
    keylog = tmp_path / "keys.log"
    result = eval_in_app(
        app_dir,
        """
        let reports = [];
        while (reports.length < 2) {
          reports = await ramparts.invoke("reports");
          await new Promise((r) => setTimeout(r, 20));
        }
        return reports;
        """,
        env={"RAMPARTS_KEYLOG": str(keylog)},
        timeout=60,
    )
    assert result == [
        {"before": "out_of_scope", "granted": str(secret), "after": "granted once"},
        {"afterReload": "out_of_scope"},
    ]
    second = [e for e in read_keylog(keylog) if e["window"] == "second"]
    assert len(second) == 2 and second[0]["key"] != second[1]["key"]


# pywebview builds a window asked for from a worker thread at once, on the GUI thread,
# and may fire its ``before_show`` before ``create_window`` has returned to Ramparts
# (the worker lost the CPU). This makes that order certain: ``create_window`` returns
# only after ``before_show`` has fired.
LATE_RETURN = """
import threading
import webview

_create_window = webview.create_window

def _returns_after_before_show(*args: Any, **kwargs: Any) -> Any:
    window = _create_window(*args, **kwargs)
    if threading.current_thread() is not threading.main_thread():
        assert window.events.before_show.wait(30), "pywebview never showed the window"
    return window

webview.create_window = _returns_after_before_show
"""


def test_a_window_shown_before_create_window_returns_still_gets_the_bridge(
    tmp_path: Path,
) -> None:
    app_dir = opener_app(
        tmp_path / "app",
        "ramparts.invoke('report', { value: typeof ramparts.invoke });\n",
        commands=OPENER + LATE_RETURN,
    )
    result = eval_in_app(
        app_dir,
        """
        const opened = await ramparts.invoke("open_from_python", { label: "second" });
        for (let i = 0; i < 500; i++) {
          const reports = await ramparts.invoke("reports");
          if (reports.length) return { opened, reports };
          await new Promise((r) => setTimeout(r, 20));
        }
        return { opened, reports: "none within 10 s" };
        """,
        timeout=60,
    )
    assert result == {"opened": "opened", "reports": [{"window": "second", "value": "function"}]}


FAIRNESS = (
    REPORT_COMMANDS
    + """
import asyncio
import os
import threading
import time

COUNTS = {"queued": 0, "finished": 0}
CLICKS: list[Any] = []
_lock = threading.Lock()


@command
async def nap(ms: int) -> int:
    # Blocking work done the asyncio way, on the loop's default executor.
    COUNTS["queued"] += 1  # on the loop, in the same step as the submit below
    await asyncio.to_thread(time.sleep, ms / 1000)
    with _lock:
        COUNTS["finished"] += 1
    return ms


@command
def counts() -> dict[str, int]:
    return dict(COUNTS)


@command
def clicks() -> list[Any]:
    return CLICKS


@command
def attempted() -> str | None:
    path = os.environ["TEST_ATTEMPT"]
    return open(path).read() if os.path.exists(path) else None


@on("clicked")
def clicked(payload: Any) -> None:
    CLICKS.append(payload)
"""
)


def test_one_windows_slow_async_work_does_not_delay_anothers(tmp_path: Path) -> None:
    """Found on main: the blocking work of every window's async commands shared asyncio's
    default executor (one FIFO queue, a few threads), so a window with slow async calls
    delayed another window's ``http.fetch``. Window B fires more 3 s naps than any
    default executor has threads; window A's 10 ms nap must finish before any of B's."""
    naps = 40
    caps = textwrap.dedent(
        """
        [[tool.ramparts.windows]]
        label = "main"
        capabilities = []
        [[tool.ramparts.windows]]
        label = "second"
        entry = "second.html"
        capabilities = []
        start = true
        """
    )
    second_js = f"for (let i = 0; i < {naps}; i++) ramparts.invoke('nap', {{ ms: 3000 }});\n"
    app_dir = write_app(
        tmp_path / "app",
        capabilities=caps,
        commands=FAIRNESS,
        module="fairness_cmds",
        files={
            "second.html": "<!doctype html><script src='second.js'></script>",
            "second.js": second_js,
        },
    )
    result = eval_in_app(
        app_dir,
        f"""
        const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
        // Window B's page opens on its own (start = true); wait for all its naps to be
        // submitted to the executor, running or queued.
        for (let i = 0; i < 1500 && (await ramparts.invoke("counts")).queued < {naps}; i++) {{
          await sleep(20);
        }}
        const before = await ramparts.invoke("counts");
        const mine = await ramparts.invoke("nap", {{ ms: 10 }});
        const after = await ramparts.invoke("counts");
        return {{ before, mine, after }};
        """,
        timeout=90,
    )
    assert result["before"] == {"queued": naps, "finished": 0}
    assert result["mine"] == 10
    # Only A's own nap had finished when A got its answer: none of B's 3 s naps.
    assert result["after"]["finished"] == 1, "window A waited behind window B's work"


def test_a_window_without_app_commands_cannot_run_the_apps_event_handlers(
    tmp_path: Path,
) -> None:
    """Found on main: ``app_commands = false`` took the app's commands from a window,
    but its page could still run the app's ``@on`` handlers with its own payloads."""
    attempt = tmp_path / "attempt.txt"
    caps = textwrap.dedent(
        f"""
        [tool.ramparts.capabilities.fs]
        allow = ["write_text"]
        [tool.ramparts.capabilities.fs.scope]
        allow = ["{tmp_path}/*"]
        [[tool.ramparts.windows]]
        label = "main"
        capabilities = []
        [[tool.ramparts.windows]]
        label = "second"
        entry = "second.html"
        capabilities = ["fs"]
        app_commands = false
        start = true
        """
    )
    second_js = f"""
    (async () => {{
      const sent = await ramparts.events.emit("clicked", {{ from: "second" }}).then(
        () => "sent", (e) => "refused: " + (e.code || e.message));
      await ramparts.fs.write_text({{ path: {json.dumps(str(attempt))}, contents: sent }});
    }})();
    """
    app_dir = write_app(
        tmp_path / "app",
        capabilities=caps,
        commands=FAIRNESS,
        module="events_cmds",
        files={
            "second.html": "<!doctype html><script src='second.js'></script>",
            "second.js": second_js,
        },
    )
    result = eval_in_app(
        app_dir,
        """
        const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
        await ramparts.events.emit("clicked", { from: "main" });
        let attempted = null;
        for (let i = 0; i < 1500 && attempted === null; i++) {
          attempted = await ramparts.invoke("attempted");
          await sleep(20);
        }
        let clicks = [];
        for (let i = 0; i < 500 && !clicks.length; i++) {
          clicks = await ramparts.invoke("clicks");
          await sleep(20);
        }
        await sleep(500);  // time for a wrongly accepted event of the second window to land
        return { attempted, clicks: await ramparts.invoke("clicks") };
        """,
        env={"TEST_ATTEMPT": str(attempt)},
        timeout=60,
    )
    assert result["attempted"] is not None and result["attempted"] != "sent"
    assert result["clicks"] == [{"from": "main"}]
