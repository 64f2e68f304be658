"""``ramparts dev`` as a dev loop: page errors on stderr, a headless run that says so,
``--reload``, F5 and the readiness line."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from app_folders import REPORT_COMMANDS, write_app

pytestmark = [pytest.mark.webview, pytest.mark.usefixtures("engine")]

# The page logs an error, warns, then throws at its top level (uncaught).
FAILING_JS = """
console.error("devloop-console-error");
console.warn("devloop-console-warning");
console.log("devloop-console-info");
throw new Error("devloop-uncaught");
"""


def _dev(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ramparts", "dev", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_dev_prints_page_errors_without_trace(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", files={"app.js": FAILING_JS})
    script = tmp_path / "e.js"
    script.write_text("return 1;")
    done = _dev(str(app_dir), "--headless", "--eval", str(script))
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert any(line.startswith("page error: devloop-console-error (app://") for line in lines), (
        done.stderr
    )
    assert any(line.startswith("page error: ") and "devloop-uncaught" in line for line in lines), (
        done.stderr
    )
    assert any(line.startswith("page warning: devloop-console-warning") for line in lines)
    assert "devloop-console-info" not in done.stderr  # info lines only with --trace


def test_trace_adds_every_console_line(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", files={"app.js": FAILING_JS})
    script = tmp_path / "e.js"
    script.write_text("return 1;")
    done = _dev(str(app_dir), "--headless", "--trace", "--eval", str(script))
    assert done.returncode == 0, done.stderr
    assert "console: main: devloop-console-info" in done.stderr
    assert "console: main: devloop-console-error" in done.stderr
    assert "devloop-uncaught" in done.stderr


def test_eval_error_says_name_message_and_stack(tmp_path: Path) -> None:
    """JavaScriptCore's stack holds only the frames, V8's starts with "Name: message":
    either way the error's name and message come first, then where it was thrown."""
    app_dir = write_app(tmp_path / "app")
    script = tmp_path / "e.js"
    script.write_text(
        'function devloopThrower() { throw new TypeError("devloop-bad"); }\ndevloopThrower();'
    )
    done = _dev(str(app_dir), "--headless", "--eval", str(script))
    assert done.returncode != 0
    failed = done.stderr[done.stderr.index("error: --eval failed: ") :].splitlines()
    assert failed[0] == "error: --eval failed: TypeError: devloop-bad", done.stderr
    assert any("devloopThrower" in line for line in failed[1:]), done.stderr


def test_built_app_runner_prints_no_page_errors_unless_asked(tmp_path: Path) -> None:
    # What a built app's launcher calls: run_app without page_errors.
    app_dir = write_app(tmp_path / "app", files={"app.js": FAILING_JS})
    script = tmp_path / "e.js"
    script.write_text("return 1;")
    code = (
        "import sys; from pathlib import Path; from ramparts.run import run_app; "
        f"sys.exit(run_app(Path({str(app_dir)!r}), headless=True, eval_file=Path({str(script)!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "devloop-console-error" not in done.stderr
    assert "page error" not in done.stderr


def test_dev_without_display_says_headless_and_stops_on_ctrl_c(tmp_path: Path, engine: str) -> None:
    app_dir = write_app(tmp_path / "app")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    if engine == "gtk":  # GTK 3 has no offscreen mode: it says so and stops
        done = _dev(str(app_dir), env=env)
        assert done.returncode != 0
        assert "the GTK backend needs a display" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
        return
    proc = subprocess.Popen(
        [sys.executable, "-m", "ramparts", "dev", str(app_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if "running headless" in line:
                break
        else:
            raise AssertionError("no headless line:\n" + "".join(seen))
        assert line.strip() == (
            "ramparts dev: no display: running headless (Qt offscreen); stop with Ctrl+C"
        )
        for line in proc.stderr:  # the app has loaded: its routes are listed
            seen.append(line)
            if line.startswith("ramparts: commands:"):
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # 0 once the GUI loop runs (it closes the windows), 130 (the shell's code for
    # Ctrl+C) if the signal came while the engine was still starting.
    assert proc.returncode in (0, 130), err
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err


@pytest.mark.qt_only(
    "Chromium's DevTools; WebKit's inspector is test_gtk_backend's "
    "test_devtools_opens_webkits_inspector_in_process_with_no_port"
)
def test_devtools_opens_an_inspector_in_process_with_no_port(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app")
    script = tmp_path / "wait.js"
    # The page waits until the test has looked at the inspector and the sockets.
    script.write_text(
        """
        for (;;) {
          const r = await fetch("/__go.txt").catch(() => null);
          if (r && r.ok) return "done";
          await new Promise((res) => setTimeout(res, 20));
        }
        """
    )
    args = ["dev", str(app_dir), "--headless", "--devtools", "--eval", str(script)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ramparts", *args, "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # printed once the inspector's frontend has loaded
            seen.append(line)
            if line.startswith("ramparts dev: devtools: "):
                break
        else:
            raise AssertionError("no inspector:\n" + "".join(seen))
        assert (
            line.strip()
            == "ramparts dev: devtools: main: devtools://devtools/bundled/inspector.html"
        )
        root = psutil.Process(proc.pid)
        found = [
            (p.name(), conn.laddr, conn.status)
            for p in [root, *root.children(recursive=True)]
            for conn in p.net_connections(kind="inet")
        ]
        assert found == [], f"sockets open in the app's process tree: {found}"
    finally:
        (app_dir / "ui" / "__go.txt").write_text("go")
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() == '"done"'
    assert "Release of profile requested" not in err


def test_without_devtools_no_inspector_opens(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app")
    script = tmp_path / "e.js"
    script.write_text("return 1;")
    done = _dev(str(app_dir), "--headless", "--eval", str(script))
    assert done.returncode == 0, done.stderr
    assert "ramparts dev: devtools:" not in done.stderr


def test_built_app_refuses_devtools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ramparts.release import launcher

    monkeypatch.setattr(sys, "argv", ["someapp", "--devtools"])
    with pytest.raises(SystemExit) as exit_info:
        launcher._run(tmp_path, "someapp", allow_eval=True)
    assert exit_info.value.code == 2
    assert "--devtools is only for `ramparts dev`" in capsys.readouterr().err


# -- the dev loop: --reload, F5, the readiness line -------------------------------------

#: The app's Python says which page called, which version of itself answered, in which
#: process and for which bridge session.
DEVLOOP_COMMANDS = """
import os
import sys

from ramparts import CallContext, command

VERSION = "{version}"


@command
def hello(ctx: CallContext, page: str) -> str:
    # One write: the app's own lines come from other threads.
    sys.stderr.write(
        f"devloop: page={{page}} python={{VERSION}} pid={{os.getpid()}} session={{ctx.session.id}}\\n"
    )
    sys.stderr.flush()
    return VERSION
"""
HELLO_JS = 'ramparts.invoke("hello", {{ page: "{page}" }});\n'
HELLO = r"devloop: page=(\S+) python=(\S+) pid=(\d+) session=(\S+)"
READY = "ramparts: window 'main' loaded app://dev.ramparts.test/index.html"
MODULE = "devloop_cmds"


class Lines:
    """A process's stderr, read line by line as it comes, waited on with deadlines."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._done = False
        self._cond = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def wait_for(
        self, pattern: str, since: int = 0, timeout: float = 90.0
    ) -> tuple[int, re.Match[str]]:
        """The first line from index ``since`` on that ``pattern`` matches (re.search)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(since, len(self.lines)):
                    found = re.search(pattern, self.lines[i])
                    if found:
                        return i, found
                left = deadline - time.monotonic()
                if left <= 0 or self._done:
                    raise AssertionError(
                        f"no line matching {pattern!r} after line {since}:\n" + self.text()
                    )
                self._cond.wait(left)

    def text(self) -> str:
        return "\n".join(self.lines)


def _write_devloop_app(root: Path, version: str = "py-1", page: str = "ui-1") -> Path:
    return write_app(
        root,
        commands=DEVLOOP_COMMANDS.format(version=version),
        module=MODULE,
        files={"app.js": HELLO_JS.format(page=page)},
    )


def _edit(path: Path, text: str) -> None:
    """Write ``path`` anew, in one piece (as an editor saves)."""
    tmp = path.with_name(path.name + ".tmp~")
    tmp.write_text(text)
    os.replace(tmp, path)


@pytest.fixture
def reloading(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str], Lines]]:
    """``ramparts dev --reload --headless`` on the devloop app; stopped at the end."""
    app_dir = _write_devloop_app(tmp_path / "app")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ramparts", "dev", "--reload", "--headless", str(app_dir)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    try:
        yield app_dir, proc, Lines(proc.stderr)
    finally:
        tree = _tree(proc.pid)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for p in tree:  # nothing is left behind, even by a failed test
            with contextlib.suppress(psutil.Error):
                p.kill()


def _tree(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_reload_ui_change_reloads_the_page_in_a_new_session(
    reloading: tuple[Path, subprocess.Popen[str], Lines],
) -> None:
    app_dir, proc, out = reloading
    i, first = out.wait_for(HELLO)
    assert first.group(1, 2) == ("ui-1", "py-1")
    out.wait_for("^" + re.escape(READY) + "$")

    _edit(app_dir / "ui" / "app.js", HELLO_JS.format(page="ui-2"))
    i, _ = out.wait_for(r"^ramparts dev: ui/app\.js changed: reloading$", since=i)
    out.wait_for("^" + re.escape(READY) + "$", since=i)  # the new page's
    i, second = out.wait_for(HELLO, since=i)
    assert second.group(1, 2) == ("ui-2", "py-1")
    assert second.group(3) == first.group(3), "a ui change must not restart the app"
    assert second.group(4) != first.group(4), "a reload is a new page: a new session"
    assert "restarting" not in out.text()
    assert proc.poll() is None


def test_reload_python_change_restarts_the_app(
    reloading: tuple[Path, subprocess.Popen[str], Lines],
) -> None:
    app_dir, _, out = reloading
    i, first = out.wait_for(HELLO)
    _edit(app_dir / f"{MODULE}.py", DEVLOOP_COMMANDS.format(version="py-2"))
    i, _ = out.wait_for(rf"^ramparts dev: {MODULE}\.py changed: restarting$", since=i)
    i, second = out.wait_for(HELLO, since=i)
    assert second.group(1, 2) == ("ui-1", "py-2")
    assert second.group(3) != first.group(3)
    assert not psutil.pid_exists(int(first.group(3))), "the old app must have exited"

    # pyproject.toml restarts it too: here with a new name.
    pyproject = app_dir / "pyproject.toml"
    _edit(pyproject, pyproject.read_text().replace('name = "Test App"', 'name = "Renamed App"'))
    i, _ = out.wait_for(r"^ramparts dev: pyproject\.toml changed: restarting$", since=i)
    i, _ = out.wait_for(r"^ramparts: Renamed App \(dev\.ramparts\.test\)", since=i)
    out.wait_for(HELLO, since=i)


def test_reload_survives_a_broken_app_and_recovers(
    reloading: tuple[Path, subprocess.Popen[str], Lines],
) -> None:
    app_dir, proc, out = reloading
    module = app_dir / f"{MODULE}.py"
    i, _ = out.wait_for(HELLO)

    _edit(module, DEVLOOP_COMMANDS.format(version="py-2") + "\ndef broken(:\n")
    i, _ = out.wait_for(rf"^ramparts dev: {MODULE}\.py changed: restarting$", since=i)
    i, _ = out.wait_for(rf"^error: .*{MODULE}\.py:\d+: ", since=i)
    i, _ = out.wait_for(
        r"^ramparts dev: the app exited with code 1; waiting for a change$", since=i
    )
    assert proc.poll() is None, "the supervisor must wait for the fix"
    assert "Traceback" not in out.text()

    _edit(module, DEVLOOP_COMMANDS.format(version="py-3"))
    i, _ = out.wait_for(rf"^ramparts dev: {MODULE}\.py changed: restarting$", since=i)
    i, fixed = out.wait_for(HELLO, since=i)
    assert fixed.group(2) == "py-3"

    # A bad config is reported the same way, and its fix recovers too.
    pyproject = app_dir / "pyproject.toml"
    good = pyproject.read_text()
    _edit(pyproject, good.replace('identifier = "dev.ramparts.test"', 'identifier = "Not An Id"'))
    i, _ = out.wait_for(r"^error: .*identifier", since=i)
    i, _ = out.wait_for(
        r"^ramparts dev: the app exited with code 1; waiting for a change$", since=i
    )
    _edit(pyproject, good)
    i, _ = out.wait_for(r"^ramparts dev: pyproject\.toml changed: restarting$", since=i)
    out.wait_for(HELLO, since=i)
    assert proc.poll() is None


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_reload_stops_cleanly_leaving_no_process(
    reloading: tuple[Path, subprocess.Popen[str], Lines], signum: int
) -> None:
    _, proc, out = reloading
    out.wait_for(HELLO)
    tree = _tree(proc.pid)  # the app's Python and the engine's helper processes
    assert any("ramparts" in " ".join(p.cmdline()) for p in tree), tree
    proc.send_signal(signum)
    assert proc.wait(60) == 0, out.text()
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert alive == [], f"left running: {[(p.pid, p.name()) for p in alive]}"
    assert "Traceback" not in out.text()


def test_reload_does_not_go_with_eval(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ramparts.cli import app

    app_dir = write_app(tmp_path / "app")
    script = tmp_path / "e.js"
    script.write_text("return 1;")
    done = CliRunner().invoke(app, ["dev", str(app_dir), "--reload", "--eval", str(script)])
    assert done.exit_code == 2
    assert "--reload" in done.output


#: A command that presses a key in the calling window, as Qt's input does.
PRESS_COMMANDS = (
    REPORT_COMMANDS
    + '''
import sys

LOADS: list[str] = []


def _gtk_press(host: Any, key: str) -> None:
    """Press ``key`` as the keyboard would: Ctrl+R is Control, then R (GUI thread)."""
    import gi
    gi.require_version("Gdk", "3.0")
    gi.require_version("Gtk", "3.0")
    from gi.repository import Gdk
    from webview.platforms.gtk import BrowserView

    view = BrowserView.instances[host.native.uid].webview
    top = view.get_toplevel()
    keymap = Gdk.Keymap.get_for_display(Gdk.Display.get_default())
    keyboard = Gdk.Display.get_default().get_default_seat().get_keyboard()
    ctrl = Gdk.ModifierType.CONTROL_MASK

    def send(kind: Any, keyval: int, state: Any) -> None:
        ev = Gdk.Event.new(kind)
        ev.key.window = top.get_window()
        ev.key.send_event = True
        ev.key.time = Gdk.CURRENT_TIME
        ev.key.keyval = keyval
        ev.key.state = state
        found, keys = keymap.get_entries_for_keyval(keyval)
        ev.key.hardware_keycode = keys[0].keycode if found else 0
        ev.set_device(keyboard)
        top.event(ev)

    view.grab_focus()  # no window manager under Xvfb gives the window focus
    P, R = Gdk.EventType.KEY_PRESS, Gdk.EventType.KEY_RELEASE
    if key == "F5":
        send(P, Gdk.KEY_F5, Gdk.ModifierType(0))
        send(R, Gdk.KEY_F5, Gdk.ModifierType(0))
    else:
        send(P, Gdk.KEY_Control_L, Gdk.ModifierType(0))
        send(P, Gdk.KEY_r, ctrl)
        send(R, Gdk.KEY_r, ctrl)
        send(R, Gdk.KEY_Control_L, ctrl)


@command
def press(ctx: CallContext, key: str) -> None:
    import os

    if os.environ["RAMPARTS_BACKEND"] == "gtk":
        host = ctx.app.hosts[ctx.window]
        host.call_on_ui(lambda: _gtk_press(host, key))
        return
    from PyQt6.QtCore import Qt
    from PyQt6.QtTest import QTest

    view = ctx.app.hosts[ctx.window].native.native.webview
    code, mods = {
        "F5": (Qt.Key.Key_F5, Qt.KeyboardModifier.NoModifier),
        "Ctrl+R": (Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier),
    }[key]
    ctx.app.hosts[ctx.window].call_on_ui(lambda: QTest.keyClick(view.focusProxy() or view, code, mods))


@command
def loaded(ctx: CallContext) -> None:
    """Each load: say so, then press F5 on the first, Ctrl+R on the second."""
    LOADS.append(ctx.session.id)
    sys.stderr.write(f"devloop: load {len(LOADS)} session={ctx.session.id}\\n")
    sys.stderr.flush()
    key = {1: "F5", 2: "Ctrl+R"}.get(len(LOADS))
    if key is not None:
        press(ctx, key)
'''
)


def test_dev_f5_and_ctrl_r_reload_the_page(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "app",
        commands=PRESS_COMMANDS,
        module="press_cmds",
        files={"app.js": 'addEventListener("load", () => ramparts.invoke("loaded"));\n'},
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "ramparts", "dev", "--headless", str(app_dir)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    out = Lines(proc.stderr)
    try:
        sessions, where = [], []
        i = 0
        for n in (1, 2, 3):
            i, found = out.wait_for(rf"^devloop: load {n} session=(\S+)$", since=i)
            sessions.append(found.group(1))
            where.append(i)
        assert len(set(sessions)) == 3, "each reload is a new session"
        # The third page started loading after the second said "load 2" (then Ctrl+R).
        out.wait_for("^" + re.escape(READY) + "$", since=where[1])
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_built_app_runner_has_no_reload_keys_and_no_readiness_line(tmp_path: Path) -> None:
    # What a built app's launcher calls: run_app without the dev flags. The keys reach
    # the page instead, and nothing reloads.
    app_dir = write_app(tmp_path / "app", commands=PRESS_COMMANDS, module="press_cmds")
    script = tmp_path / "e.js"
    script.write_text(
        """
        const keys = [];
        addEventListener("keydown", (e) => keys.push(e.key));
        await ramparts.invoke("press", { key: "F5" });
        await ramparts.invoke("press", { key: "Ctrl+R" });
        const deadline = Date.now() + 20000;
        while (!keys.includes("r") && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20));
        }
        return keys;
        """
    )
    code = (
        "import sys; from pathlib import Path; from ramparts.run import run_app; "
        f"code = run_app(Path({str(app_dir)!r}), headless=True, eval_file=Path({str(script)!r})); "
        "print('watchfiles imported' if 'watchfiles' in sys.modules else '', file=sys.stderr); "
        "sys.exit(code)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["F5", "Control", "r"]
    assert "ramparts: window" not in done.stderr
    assert "watchfiles imported" not in done.stderr  # the dev loop's, never a built app's


def test_eval_of_a_page_that_never_yields_times_out(tmp_path: Path) -> None:
    """The deadline is kept outside the page: a page stuck in a loop cannot hold it off."""
    app_dir = write_app(tmp_path / "app")
    script = tmp_path / "e.js"
    script.write_text("while (true) {}")
    done = _dev(str(app_dir), "--headless", "--eval", str(script), "--timeout", "3")
    assert done.returncode == 2, done.stderr
    assert "error: --eval timed out: the script did not settle within 3 s" in done.stderr


def test_eval_of_a_long_script_is_still_read_after_the_polls_slow_down(tmp_path: Path) -> None:
    """--eval reads the result slot every 20 ms for two seconds, then every 100 ms (the
    reads compete with the page's own work): a script that ends later is still read."""
    app_dir = write_app(tmp_path / "app")
    script = tmp_path / "e.js"
    script.write_text(
        "await new Promise((r) => setTimeout(r, 2600));"
        " return await ramparts.invoke('add', { a: 40, b: 2 });"
    )
    done = _dev(str(app_dir), "--headless", "--eval", str(script), "--timeout", "30")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == 42
