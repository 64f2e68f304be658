"""Window control in real windows, on both engines: each config key takes effect (read
back from the toolkit itself, not through Ramparts' own code), the Python API from a
worker thread, the ``window`` capability's commands and their refusals, window events
to Python and to the page, the close veto, and the remembered state across launches.

Qt's offscreen platform records maximize, minimize, fullscreen and always-on-top itself;
on GTK a window manager carries them out, so the tests of those states run GTK's apps on
a display with one (openbox: the ``window_manager`` fixture) and read what it did.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from app_folders import write_app

from ramparts.testing import eval_in_app

pytestmark = [pytest.mark.webview, pytest.mark.usefixtures("engine")]

#: The test app's commands: ``toolkit`` reads a window straight from Qt or GTK.
COMMANDS = '''
import os
import threading
from typing import Any

from ramparts import CallContext, WindowEvent, command, on_window_event

EVENTS: list[dict[str, Any]] = []
VETO = {"tool"}


@on_window_event
def record(app: Any, event: WindowEvent) -> object:
    EVENTS.append({"kind": event.kind, "window": event.window, **event.to_json(),
                   "thread": threading.current_thread().name})
    if event.kind == "close-requested" and event.window in VETO:
        return False
    return None


@command
def events() -> list[dict[str, Any]]:
    return EVENTS


@command
def veto(label: str) -> None:
    VETO.add(label)


@command
def open_labels(ctx: CallContext) -> list[str]:
    return sorted(ctx.app.hosts)


@command
def py_api(ctx: CallContext, label: str, action: str, args: list[Any]) -> str:
    """Drive the Python API from this worker thread."""
    window = ctx.app.window(label)
    if action == "force_close":
        window.close(force=True)
    else:
        getattr(window, action)(*args)
    return threading.current_thread().name


@command
def toolkit(ctx: CallContext, label: str) -> dict[str, Any]:
    host = ctx.app.hosts[label]
    native = host.native

    def gtk() -> dict[str, Any]:
        from gi.repository import Gdk
        from webview.platforms.gtk import BrowserView

        b = BrowserView.instances[native.uid]
        w = b.window
        (x, y), (width, height) = w.get_position(), w.get_size()
        bg = b.webview.get_background_color()
        rgb = (round(bg.red * 255), round(bg.green * 255), round(bg.blue * 255))
        S = Gdk.WindowState
        states = w.get_window().get_state() if w.get_window() else S(0)
        return {"maximized": bool(states & S.MAXIMIZED), "minimized": bool(states & S.ICONIFIED),
                "fullscreen": bool(states & S.FULLSCREEN), "on_top": bool(states & S.ABOVE),
                "x": x, "y": y, "width": width, "height": height, "title": w.get_title(),
                "visible": w.get_visible(), "decorated": w.get_decorated(),
                "focused": w.is_active(),
                "screen": w.get_display().get_monitor(0).get_geometry().width,
                "background": "#%02x%02x%02x" % rgb}

    def qt() -> dict[str, Any]:
        from PyQt6.QtCore import Qt
        from PyQt6.QtWidgets import QWidget

        w = native.native
        flags, states = w.windowFlags(), w.windowState()
        S = Qt.WindowState
        return {"x": w.x(), "y": w.y(), "width": w.width(), "height": w.height(),
                "title": w.windowTitle(), "visible": w.isVisible(),
                "focused": w.isActiveWindow(), "screen": QWidget.screen(w).geometry().width(),
                "decorated": not (flags & Qt.WindowType.FramelessWindowHint),
                "on_top": bool(flags & Qt.WindowType.WindowStaysOnTopHint),
                "min": [w.minimumWidth(), w.minimumHeight()],
                "max": [w.maximumWidth(), w.maximumHeight()],
                "maximized": bool(states & S.WindowMaximized),
                "minimized": bool(states & S.WindowMinimized),
                "fullscreen": bool(states & S.WindowFullScreen),
                "background": w.webview.page().backgroundColor().name()}

    return host.call_on_ui(gtk if os.environ["RAMPARTS_BACKEND"] == "gtk" else qt)
'''

#: Polls with a deadline (window managers and toolkits answer later, not at once).
POLL = """
const until = async (f, ms = 20000) => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
};
const tk = (label) => ramparts.invoke("toolkit", { label });
const py = (label, action, ...args) => ramparts.invoke("py_api", { label, action, args });
"""

WINDOWS = """
[tool.ramparts.capabilities.window]
allow = ["close", "set_size", "show", "minimize", "state", "set_position"]
labels = ["tool", "ghost"]
events = ["resized", "close-requested"]
[[tool.ramparts.windows]]
label = "main"
capabilities = ["window"]
[[tool.ramparts.windows]]
label = "tool"
entry = "other.html"
start = true
x = 40
y = 50
width = 420
height = 300
min_width = 200
min_height = 150
max_width = 700
max_height = 500
background = "#336699"
always_on_top = true
frameless = true
[[tool.ramparts.windows]]
label = "ghost"
entry = "other.html"
start = true
hidden = true
[[tool.ramparts.windows]]
label = "secret"
entry = "other.html"
start = true
maximized = true
"""

CONTROL_JS = (
    POLL
    + """
const out = {};
await until(async () => (await ramparts.invoke("open_labels")).length === 4);
out.tool = await tk("tool");
out.ghost = await tk("ghost");
out.secret = await tk("secret");

// The Python API from a worker thread, read back from the toolkit.
out.thread = await py("secret", "set_title", "from python");
await py("secret", "unmaximize");
await py("secret", "set_size", 333, 222);
await py("secret", "set_position", 17, 19);
out.secretAfter = await until(async () => {
  const s = await tk("secret");
  return s.width === 333 && s.x === 17 && s.title === "from python" ? s : null;
}) || await tk("secret");

// Size limits hold whoever asks.
await ramparts.window.set_size({ label: "tool", width: 5000, height: 5000 });
out.toolBig = await until(async () => { const s = await tk("tool"); return s.width === 700 ? s : null; })
  || await tk("tool");
await ramparts.window.set_size({ label: "tool", width: 10, height: 10 });
out.toolSmall = await until(async () => { const s = await tk("tool"); return s.width === 200 ? s : null; })
  || await tk("tool");

// The hidden window, shown by a page command.
await ramparts.window.show({ label: "ghost" });
out.ghostShown = await until(async () => (await tk("ghost")).visible);
out.ghostState = await ramparts.window.state({ label: "ghost" });

// Refusals: a label not listed, the calling window without self, a command not allowed.
const code = (p) => p.then(() => "ok", (e) => e.code);
out.unlisted = await code(ramparts.window.minimize({ label: "secret" }));
out.unknown = await code(ramparts.window.minimize({ label: "nope" }));
out.own = await code(ramparts.window.set_size({ width: 500, height: 400 }));
out.ownLabel = await code(ramparts.window.set_position({ label: "main", x: 1, y: 1 }));
out.notAllowed = typeof ramparts.window.maximize;
out.invokeNotAllowed = await code(ramparts.invoke("window.maximize", { label: "tool" }));

// The page's own window events (granted: resized), caused from Python.
const got = [];
ramparts.events.on("ramparts:window-resized", (p) => got.push(p));
ramparts.events.on("ramparts:window-moved", (p) => got.push({ moved: p }));
await py("main", "set_size", 510, 410);
out.pageEvent = await until(async () => got.find((p) => p.width === 510));
await py("main", "set_position", 30, 30);

// Focus from Python: the toolkit says so, and the window reports it.
const focusedSince = async (label, n) => (await ramparts.invoke("events"))
  .slice(n).some((e) => e.kind === "focused" && e.window === label && e.focused);
for (const label of ["secret", "ghost"]) {
  const n = (await ramparts.invoke("events")).length;
  await py(label, "focus");
  out[label + "Focus"] = [
    await until(async () => (await tk(label)).focused),
    await until(() => focusedSince(label, n)),
  ];
}
out.secretBlurred = await until(async () => !(await tk("secret")).focused);

// The close veto: Python keeps "tool" open whoever asks, until a forced close.
await ramparts.window.close({ label: "tool" });
await py("tool", "close");
out.afterVeto = await ramparts.invoke("open_labels");
await py("tool", "force_close");
out.afterClose = await until(async () => {
  const l = await ramparts.invoke("open_labels");
  return l.includes("tool") ? null : l;
});
out.closedState = await code(ramparts.window.state({ label: "tool" }));

// Its own close request, vetoed by Python: the page hears of it and stays.
const asked = [];
ramparts.events.on("ramparts:window-close-requested", (p) => asked.push(p));
await ramparts.invoke("veto", { label: "main" });
await ramparts.window.close({});
out.closeHeard = await until(async () => asked.length > 0 && asked);
out.pageGot = got;
out.events = await ramparts.invoke("events");
return out;
"""
)


@pytest.fixture(scope="module")
def control_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    other = "<!doctype html><html><body>other</body></html>"
    return write_app(
        tmp_path_factory.mktemp("control"),
        capabilities=textwrap.dedent(WINDOWS),
        commands=COMMANDS,
        module="window_control_cmds",
        files={"other.html": other},
    )


def test_config_api_commands_events_and_veto(
    control_app: Path, engine: str, tmp_path: Path
) -> None:
    out = eval_in_app(control_app, CONTROL_JS, timeout=90, env=_data_home(tmp_path))

    tool = out["tool"]  # every key of its config, as the toolkit has it
    assert (tool["x"], tool["y"], tool["width"], tool["height"]) == (40, 50, 420, 300)
    assert tool["decorated"] is False and tool["background"] == "#336699"
    ghost = out["ghost"]  # no x/y: centred (across; pywebview lifts it a little on Qt)
    assert ghost["visible"] is False and ghost["background"] == "#ffffff"
    assert abs(ghost["x"] + ghost["width"] // 2 - ghost["screen"] // 2) <= 1
    assert out["secret"]["decorated"] is True
    if engine == "qt":  # on GTK a window manager does these: test_window_states_from_the_page
        assert tool["on_top"] is True and out["secret"]["on_top"] is False
        assert tool["min"] == [200, 150] and tool["max"] == [700, 500]
        assert out["secret"]["maximized"] is True

    after = out["secretAfter"]
    assert out["thread"].startswith("ramparts-cmd")  # a worker, not the GUI thread
    assert (after["x"], after["y"], after["width"], after["height"]) == (17, 19, 333, 222)
    assert after["title"] == "from python"
    assert (out["toolBig"]["width"], out["toolBig"]["height"]) == (700, 500)
    assert (out["toolSmall"]["width"], out["toolSmall"]["height"]) == (200, 150)
    assert out["ghostShown"] is True and out["ghostState"]["visible"] is True

    assert out["unlisted"] == out["unknown"] == out["own"] == out["ownLabel"] == "not_allowed"
    assert out["notAllowed"] == "undefined" and out["invokeNotAllowed"] == "not_allowed"

    assert out["pageEvent"] == {"window": "main", "width": 510, "height": 410}
    assert not any("moved" in p for p in out["pageGot"])  # not granted to the page

    assert out["secretFocus"] == out["ghostFocus"] == [True, True] and out["secretBlurred"]
    assert {"kind": "focused", "window": "secret", "focused": False} in [
        {k: v for k, v in e.items() if k != "thread"} for e in out["events"]
    ]

    assert "tool" in out["afterVeto"] and "tool" not in out["afterClose"]
    assert out["closedState"] == "failed"
    assert out["closeHeard"] == [{"window": "main"}]
    events = out["events"]
    closes = [e for e in events if e["kind"] == "close-requested" and e["window"] == "tool"]
    assert len(closes) == 2 and all(e["thread"] == "MainThread" for e in closes)  # none forced
    assert {"kind": "resized", "window": "secret", "width": 333, "height": 222} in [
        {k: v for k, v in e.items() if k != "thread"} for e in events
    ]
    assert any(e["kind"] == "moved" and (e["x"], e["y"]) == (17, 19) for e in events)
    others = {e["thread"] for e in events if e["kind"] != "close-requested"}
    assert others == {"ramparts-window-events"}


@pytest.mark.usefixtures("window_manager")
def test_window_states_from_the_page(tmp_path: Path) -> None:
    states = """
    [tool.ramparts.capabilities.window]
    allow = ["minimize", "state"]
    labels = ["tool"]
    [[tool.ramparts.windows]]
    label = "main"
    capabilities = ["window"]
    fullscreen = true
    [[tool.ramparts.windows]]
    label = "tool"
    start = true
    [[tool.ramparts.windows]]
    label = "above"
    start = true
    always_on_top = true
    maximized = true
    """
    app = write_app(
        tmp_path / "app",
        capabilities=textwrap.dedent(states),
        commands=COMMANDS,
        module="states_cmds",
    )
    js = (
        POLL
        + """
await until(async () => (await ramparts.invoke("open_labels")).length === 3);
const out = {
  mainFullscreen: await until(async () => (await tk("main")).fullscreen),
  above: await until(async () => { const s = await tk("above"); return s.on_top && s.maximized && s; }),
  toolPlain: await tk("tool"),
};
await ramparts.window.minimize({ label: "tool" });
out.minimized = await until(async () => (await tk("tool")).minimized);
// Each state change is read back once it settles: the window manager answers later.
const settled = (want) => until(async () => {
  const s = await tk("tool");
  return Object.entries(want).every(([k, v]) => s[k] === v) && s;
});
await py("tool", "maximize");  // out of minimized, as the user would see it
out.maximized = await settled({ maximized: true, minimized: false });
await py("tool", "set_fullscreen", true);
out.fullscreen = await settled({ fullscreen: true });
out.state = await ramparts.window.state({ label: "tool" });
await py("tool", "set_fullscreen", false);  // back to maximized, not to normal
out.leftFullscreen = await settled({ fullscreen: false, maximized: true });
await py("tool", "unmaximize");
out.normal = await settled({ fullscreen: false, maximized: false, minimized: false });
await py("tool", "minimize");
await settled({ minimized: true });
await py("tool", "set_fullscreen", true);  // out of minimized too
out.fullFromMinimized = await settled({ fullscreen: true, minimized: false });
await py("tool", "unmaximize");  // restores from fullscreen as well
out.normalAgain = await settled({ fullscreen: false, maximized: false, minimized: false });
return out;
"""
    )
    out = eval_in_app(app, js, timeout=60, env=_data_home(tmp_path))
    assert out["mainFullscreen"] is True
    assert out["above"] and out["above"]["on_top"] is out["above"]["maximized"] is True
    plain = out["toolPlain"]
    assert not (plain["on_top"] or plain["maximized"] or plain["minimized"] or plain["fullscreen"])
    steps = ["minimized", "maximized", "fullscreen", "leftFullscreen", "normal"]
    steps += ["fullFromMinimized", "normalAgain"]
    assert {k: bool(out[k]) for k in steps} == dict.fromkeys(steps, True)
    assert out["state"]["fullscreen"] is True and out["state"]["minimized"] is False


def _data_home(tmp_path: Path) -> dict[str, str]:
    """Where the app's ``$APPDATA`` (and its remembered window state) goes."""
    return {"XDG_DATA_HOME": str(tmp_path / "data")}


REMEMBER = """
[tool.ramparts.capabilities.window]
allow = ["set_size", "set_position", "state"]
self = true
[[tool.ramparts.windows]]
label = "main"
capabilities = ["window"]
remember_state = true
width = 640
height = 480
[[tool.ramparts.windows]]
label = "tool"
entry = "other.html"
start = true
remember_state = true
width = 300
height = 200
x = 10
y = 10
"""

READ_JS = (
    POLL
    + """
await until(async () => (await ramparts.invoke("open_labels")).length === 2);
return { main: await tk("main"), tool: await tk("tool") };
"""
)


def _remember_app(tmp_path: Path, module: str) -> tuple[Path, dict[str, str]]:
    """An app with REMEMBER's two windows, and the environment its launches share."""
    app = write_app(
        tmp_path / "app",
        capabilities=textwrap.dedent(REMEMBER),
        commands=COMMANDS,
        module=module,
        files={"other.html": "<!doctype html><html><body>other</body></html>"},
    )
    return app, _data_home(tmp_path)


def test_state_is_remembered_across_launches(engine: str, tmp_path: Path) -> None:
    app, env = _remember_app(tmp_path, "remember_cmds")
    first = (
        POLL
        + """
await until(async () => (await ramparts.invoke("open_labels")).length === 2);
// Python refuses to let main close: --eval's end closes it all the same (forced), and
// the state is still saved as it goes.
await ramparts.invoke("veto", { label: "main" });
await ramparts.window.set_size({ width: 480, height: 360 });  // its own: self = true
await ramparts.window.set_position({ x: 70, y: 80 });
await until(async () => { const s = await tk("main"); return s.width === 480 && s.x === 70; });
return await tk("main");
"""
    )
    assert eval_in_app(app, first, timeout=60, env=env)["width"] == 480
    file = tmp_path / "data" / "dev.ramparts.test" / "window-state.json"
    saved = json.loads(file.read_text())
    assert saved["main"] == {"x": 70, "y": 80, "width": 480, "height": 360, "maximized": False}

    second = eval_in_app(app, READ_JS, timeout=60, env=env)["main"]
    assert (second["x"], second["y"], second["width"], second["height"]) == (70, 80, 480, 360)

    # An entry off every screen, and one that is not a state: each ignored with a warning.
    saved["main"] = {"x": 90000, "y": 90000, "width": 400, "height": 300, "maximized": False}
    saved["tool"] = {"x": "left", "width": -1}
    file.write_text(json.dumps(saved))
    third = _eval_with_stderr(app, env)
    main, tool = third["main"], third["tool"]
    assert (main["width"], main["height"]) == (400, 300) and 0 <= main["x"] < 2000
    assert (tool["x"], tool["y"], tool["width"], tool["height"]) == (10, 10, 300, 200)


@pytest.mark.usefixtures("window_manager")
def test_a_maximized_window_reopens_maximized(engine: str, tmp_path: Path) -> None:
    app, env = _remember_app(tmp_path, "remember_max_cmds")
    first = (
        POLL
        + """
await until(async () => (await ramparts.invoke("open_labels")).length === 2);
await ramparts.window.set_size({ width: 480, height: 360 });
await until(async () => (await tk("main")).width === 480);
await py("main", "maximize");
return await until(async () => (await tk("main")).maximized);
"""
    )
    assert eval_in_app(app, first, timeout=60, env=env) is True
    saved = json.loads((tmp_path / "data" / "dev.ramparts.test" / "window-state.json").read_text())
    # the normal size stays remembered beneath "maximized", for unmaximizing later
    assert (saved["main"]["width"], saved["main"]["height"], saved["main"]["maximized"]) == (
        480,
        360,
        True,
    )
    second = (
        POLL
        + """
await until(async () => (await ramparts.invoke("open_labels")).length === 2);
const out = { reopened: await until(async () => (await tk("main")).maximized) };
await py("main", "unmaximize");
out.normal = await until(async () => { const s = await tk("main"); return !s.maximized && s.width === 480 && s; });
return out;
"""
    )
    out = eval_in_app(app, second, timeout=60, env=env)
    assert out["reopened"] is True
    assert out["normal"] and out["normal"]["height"] == 360


def _eval_with_stderr(app: Path, env: dict[str, str]) -> dict[str, Any]:
    """READ_JS's result; the app's warnings are checked from its stderr."""
    import os
    import subprocess
    import sys
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as f:
        f.write(READ_JS)
    try:
        cmd = [sys.executable, "-m", "ramparts", "dev", str(app), "--headless", "--eval", f.name]
        cmd += ["--timeout", "60", "--no-dev-server"]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, env={**os.environ, **env}
        )
    finally:
        os.unlink(f.name)
    assert proc.returncode == 0, proc.stderr
    assert "is off every screen; centred instead" in proc.stderr
    assert "ignoring the remembered state of window 'tool'" in proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return result
