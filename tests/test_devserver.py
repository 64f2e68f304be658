"""``[tool.ramparts.dev]``: a front-end dev server behind the app's origin, in dev only.

The dev server here is real: Python's ``http.server`` started by the app's
``before_dev_command``, on a free loopback port, serving a folder that stands for a
front end's sources.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
from app_folders import REPORT_COMMANDS, write_app

from ramparts.config import load_config
from ramparts.errors import ConfigError

# The page proves what it can do and reports it: origin, a bridge call, whether a style
# with the page's nonce applied and one without did not, and the CSP it was served.
DEV_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>dev</title>
<script type="module" src="/main.js"></script></head><body><p id="p">dev page</p></body></html>
"""
DEV_MAIN = """
import "/@lib/extra.js";  // dev servers route on '@' paths (Vite's /@vite/client)
const nonce = document.querySelector("meta[property=csp-nonce]")?.nonce ?? "";
const good = document.createElement("style");
good.setAttribute("nonce", nonce);
good.textContent = "#p { color: rgb(1, 2, 3); }";
document.head.append(good);
const bad = document.createElement("style");
bad.textContent = "#p { background-color: rgb(4, 5, 6); }";
document.head.append(bad);
const style = getComputedStyle(document.getElementById("p"));
window.devReport = {
  origin: location.origin,
  nonce: nonce.length > 0,
  nonceStyle: style.color,
  bareStyle: style.backgroundColor,
  sum: await window.ramparts.invoke("add", { a: 2, b: 3 }),
  extra: window.extraLoaded === true,
};
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dev_app(root: Path, port: int, command: str | None = "default") -> Path:
    app_dir = write_app(root, capabilities="", commands=REPORT_COMMANDS + ADD_COMMAND)
    web = app_dir / "web"
    web.mkdir()
    (web / "index.html").write_text(DEV_PAGE)
    (web / "main.js").write_text(DEV_MAIN)
    (web / "@lib").mkdir()
    (web / "@lib" / "extra.js").write_text("window.extraLoaded = true;\n")
    if command == "default":
        command = f"{sys.executable} -m http.server {port} --bind 127.0.0.1 --directory web"
    table = f'\n[tool.ramparts.dev]\nurl = "http://127.0.0.1:{port}"\n'
    if command is not None:
        table += f"before_dev_command = {json.dumps(command)}\n"
    with (app_dir / "pyproject.toml").open("a") as f:
        f.write(table)
    return app_dir


# A server started as the command's child, as npm starts Vite: it writes its pid.
SPAWN_PY = """
import subprocess, sys
server = subprocess.Popen([sys.executable, "-m", "http.server", sys.argv[1],
                           "--bind", "127.0.0.1", "--directory", "web"])
open("pid", "w").write(str(server.pid))
server.wait()
"""
# The server itself, after writing its pid (exec keeps it).
SERVE_PY = """
import os, sys
open("server.pid", "w").write(str(os.getpid()))
os.execv(sys.executable, [sys.executable, "-m", "http.server", sys.argv[1],
                          "--bind", "127.0.0.1", "--directory", "web"])
"""

ADD_COMMAND = """

@command
def add(a: int, b: int) -> int:
    return a + b
"""


DEV = [sys.executable, "-m", "ramparts", "dev"]


def dev(app_dir: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = app_dir / "check.js"
    path.write_text(script)
    return subprocess.run(
        [*DEV, str(app_dir), "--headless", "--eval", str(path), "--timeout", "30", *args],
        capture_output=True,
        text=True,
        timeout=150,
        env={**os.environ},
    )


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.webview
@pytest.mark.usefixtures("engine")
def test_the_dev_page_runs_under_the_app_origin_with_the_bridge_and_the_dev_csp(
    tmp_path: Path,
) -> None:
    port = free_port()
    app_dir = dev_app(tmp_path / "app", port)
    script = """
      for (let i = 0; i < 100 && !window.devReport; i++) await new Promise(r => setTimeout(r, 50));
      const csp = document.querySelector('meta[http-equiv="Content-Security-Policy"]').content;
      // The hot-reload socket reaches the dev server (which logs the request); a
      // socket to any other port is refused by the CSP.
      const probe = new WebSocket("ws://127.0.0.1:DEV_PORT/hmr-probe");
      await new Promise(r => { probe.onclose = r; });  // http.server answers 404
      const violation = new Promise(r => document.addEventListener(
        "securitypolicyviolation",
        e => { if (e.blockedURI.includes(":OTHER_PORT")) r(e.effectiveDirective); },
      ));
      // Chromium reports the refusal as a violation event; WebKit throws at once.
      let other;
      try { new WebSocket("ws://127.0.0.1:OTHER_PORT/"); other = await violation; }
      catch (e) { other = e.name; }
      return { ...window.devReport, csp, other };
    """
    script = script.replace("DEV_PORT", str(port)).replace("OTHER_PORT", str(free_port()))
    done = dev(app_dir, script)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["origin"] == "app://dev.ramparts.test"
    assert got["sum"] == 5  # the bridge answers the dev page
    assert got["extra"] is True
    assert got["nonce"] is True
    assert got["nonceStyle"] == "rgb(1, 2, 3)"  # Vite's way of adding CSS works...
    assert got["bareStyle"] != "rgb(4, 5, 6)"  # ...and an inline style without it does not
    assert f"connect-src 'self' ws://127.0.0.1:{port}" in got["csp"]
    assert "unsafe-inline" not in got["csp"]
    assert '"GET /hmr-probe HTTP/1.1" 404' in done.stderr
    assert got["other"] in ("connect-src", "SecurityError"), got["other"]
    assert f"starting `{sys.executable} -m http.server" in done.stderr
    assert not listening(port), "the dev server outlived the app"


@pytest.mark.webview
@pytest.mark.usefixtures("engine")
def test_the_dev_servers_own_origin_gets_nothing(tmp_path: Path) -> None:
    """Navigating to the dev server's origin is refused: the bridge lives only at app://."""
    port = free_port()
    app_dir = dev_app(tmp_path / "app", port)
    script = f"""
      for (let i = 0; i < 100 && !window.devReport; i++) await new Promise(r => setTimeout(r, 50));
      const frame = document.createElement("iframe");
      frame.src = "http://127.0.0.1:{port}/index.html";
      document.body.append(frame);
      await new Promise(r => setTimeout(r, 500));
      let reached = null;
      try {{ reached = frame.contentWindow.location.href; }} catch (e) {{ reached = "cross-origin"; }}
      location.href = "http://127.0.0.1:{port}/index.html";
      await new Promise(r => setTimeout(r, 500));
      return {{ reached, still: location.origin }};
    """
    done = dev(app_dir, script)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["still"] == "app://dev.ramparts.test"
    assert got["reached"] in ("about:blank", "cross-origin", None), got


@pytest.mark.webview
@pytest.mark.usefixtures("engine")
def test_no_dev_server_serves_the_ui_folder(tmp_path: Path) -> None:
    port = free_port()
    app_dir = dev_app(tmp_path / "app", port)
    done = dev(app_dir, "return document.getElementById('p').textContent;", "--no-dev-server")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == "test app"
    assert "starting" not in done.stderr


def test_a_command_that_exits_first_is_named_with_its_exit_code(tmp_path: Path) -> None:
    command = f"{sys.executable} -c 'raise SystemExit(3)'"
    app_dir = dev_app(tmp_path / "app", free_port(), command=command)
    done = dev(app_dir, "return 1;")
    assert done.returncode == 1
    assert f"error: `{command}` exited with 3 before http://127.0.0.1:" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_port_already_taken_is_refused_before_the_command_starts(tmp_path: Path) -> None:
    port = free_port()
    other = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not listening(port):
            if other.poll() is not None:
                pytest.fail("the other server did not start")
        app_dir = dev_app(tmp_path / "app", port, command="touch started")
        done = dev(app_dir, "return 1;")
        assert done.returncode == 1
        assert "already answers before `touch started` started" in done.stderr
        assert not (app_dir / "started").exists()
    finally:
        other.terminate()
        other.wait()


def test_the_whole_process_group_stops(tmp_path: Path) -> None:
    """A command whose server is a grandchild (as with npm): it is stopped too."""
    port = free_port()
    app_dir = dev_app(tmp_path / "app", port, command=f"{sys.executable} spawn.py {port}")
    (app_dir / "spawn.py").write_text(SPAWN_PY)
    done = dev(app_dir, "return 1;", "--no-dev-server")  # the ui folder: no server started
    assert done.returncode == 0 and not (app_dir / "pid").exists()
    done = dev(app_dir, "return location.origin;")
    assert done.returncode == 0, done.stderr
    pid = int((app_dir / "pid").read_text())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not listening(port)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('url = "http://192.168.1.2:5173"', "a loopback URL"),
        ('url = "http://example.com:5173"', "a loopback URL"),
        ('url = "https://127.0.0.1:5173"', "a loopback URL"),
        ('url = "http://127.0.0.1"', "a loopback URL"),  # no port
        ('url = "http://127.0.0.1:5173/app/"', "a loopback URL"),
        ('url = "http://user@127.0.0.1:5173"', "a loopback URL"),
        ('before_dev_command = "npm run dev"', "tool.ramparts.dev.url"),
        ('url = "http://127.0.0.1:5173"\nbefor_dev_command = "x"', "before_dev_command"),
        # No shell runs the commands: its operators would reach the program as arguments.
        ('before_build_command = "npm ci && npm run build"', "'&&' would reach the program"),
        ('before_build_command = "vite build > log"', "'>' would reach the program"),
        ('before_build_command = "vite build 2>/dev/null"', "'2>/dev/null' would reach"),
        ('before_build_command = "vite build | tee log"', "'|' would reach the program"),
        ('before_build_command = "echo $HOME"', "'$HOME' would reach the program"),
        ('before_build_command = "npm run \'build"', "No closing quotation"),
        ('before_build_command = "  "', "it is empty"),
    ],
)
def test_dev_config_is_checked(tmp_path: Path, table: str, message: str) -> None:
    app_dir = write_app(tmp_path / "app", capabilities="")
    with (app_dir / "pyproject.toml").open("a") as f:
        f.write(f"\n[tool.ramparts.dev]\n{table}\n")
    with pytest.raises(ConfigError) as e:
        load_config(app_dir)
    assert message in str(e.value)


def test_loopback_spellings_and_a_missing_ui_folder(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", capabilities="")
    (app_dir / "ui" / "index.html").unlink()
    (app_dir / "ui" / "app.js").unlink()
    (app_dir / "ui").rmdir()
    with (app_dir / "pyproject.toml").open("a") as f:
        f.write(
            textwrap.dedent(
                """
                [tool.ramparts.dev]
                url = "http://[::1]:5173/"
                before_build_command = "npm run build"
                """
            )
        )
    config = load_config(app_dir)  # the ui folder is what the build will write
    assert config.dev.url == "http://[::1]:5173"
    from ramparts.app import App

    with pytest.raises(ConfigError) as e:
        App.load(app_dir)  # serving from the folder needs it
    assert "run the before_build_command (npm run build) first" in str(e.value)


def test_sigint_stops_the_dev_server_with_the_app(tmp_path: Path) -> None:
    port = free_port()
    app_dir = dev_app(tmp_path / "app", port)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ramparts", "dev", str(app_dir), "--headless"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # http.server logs the request that found it up
            if '"GET / HTTP/1.1" 200' in line:
                break
        assert listening(port)
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    finally:
        proc.kill()
    assert not listening(port)


def with_dev_table(app_dir: Path, body: str) -> Path:
    with (app_dir / "pyproject.toml").open("a") as f:
        f.write(f"\n[tool.ramparts.dev]\n{textwrap.dedent(body)}\n")
    return app_dir


def build(app_dir: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ramparts", "build", str(app_dir), "--out", str(tmp / "dist")],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_build_runs_the_before_build_command_and_stops_when_it_fails(tmp_path: Path) -> None:
    app_dir = with_dev_table(
        write_app(tmp_path / "app", capabilities=""),
        "before_build_command = "
        + json.dumps(f"{sys.executable} -c \"open('ran', 'w').write('compiling'); exit(4)\""),
    )
    done = build(app_dir, tmp_path)
    assert done.returncode == 1
    assert (app_dir / "ran").read_text() == "compiling"
    assert "failed (exit 4); nothing was built" in done.stderr
    assert not (tmp_path / "dist").exists()


@pytest.mark.parametrize(
    "reference",
    [
        '<script type="module" src="http://127.0.0.1:5173/@vite/client"></script>',
        '<script type="module" src="/@vite/client"></script>',
        "<script>new WebSocket('ws://localhost:5173')</script>",
        '<link rel="stylesheet" href="http://[::1]:5173/src/style.css">',
    ],
)
def test_build_refuses_a_ui_folder_that_loads_from_the_dev_server(
    tmp_path: Path, reference: str
) -> None:
    """The before_build_command wrote the dev page (say, `ui` names the sources, not dist)."""
    app_dir = write_app(tmp_path / "app", capabilities="")
    (app_dir / "page.html").write_text(f"<!doctype html><html><head>{reference}</head></html>")
    with_dev_table(
        app_dir,
        """
        url = "http://127.0.0.1:5173"
        before_build_command = "cp page.html ui/index.html"
        """,
    )
    done = build(app_dir, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{app_dir / 'ui' / 'index.html'} refers to the dev server" in done.stderr
    assert "must be the built front end" in done.stderr
    assert not (tmp_path / "dist").exists()


def test_a_neighbouring_port_is_not_the_dev_server(tmp_path: Path) -> None:
    """Port 51730 is not 5173: the check reads whole ports (the build then goes on and
    fails later for want of a key or PyInstaller work, which this test does not wait for)."""
    app_dir = write_app(tmp_path / "app", capabilities="")
    (app_dir / "ui" / "app.js").write_text("const api = 'http://127.0.0.1:51730/x';\n")
    with_dev_table(app_dir, 'url = "http://127.0.0.1:5173"')
    from ramparts.config import load_config as load
    from ramparts.release.build import _refuse_dev_server

    _refuse_dev_server(load(app_dir))  # no BuildError


def test_check_shows_the_dev_server_and_warns_while_the_ui_is_not_built(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", capabilities="")
    shutil.rmtree(app_dir / "ui")
    with_dev_table(
        app_dir,
        """
        url = "http://127.0.0.1:5173"
        before_dev_command = "npm run dev"
        before_build_command = "npm run build"
        """,
    )
    done = subprocess.run(
        [sys.executable, "-m", "ramparts", "check", str(app_dir)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "dev server:   http://127.0.0.1:5173 (ramparts dev only)" in done.stdout
    assert "before_build_command: npm run build" in done.stdout
    assert "does not exist yet" in done.stderr and "(run: npm run build)" in done.stderr
    assert "routes:       add, shout" in done.stdout


def test_reload_keeps_one_dev_server_across_restarts(tmp_path: Path) -> None:
    port = free_port()
    app_dir = dev_app(tmp_path / "app", port, command=f"{sys.executable} serve.py {port}")
    (app_dir / "serve.py").write_text(SERVE_PY)
    proc = subprocess.Popen(
        [*DEV, str(app_dir), "--headless", "--reload"],
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []

    def wait_for(text: str, count: int = 1) -> None:
        assert proc.stderr is not None
        while sum(text in line for line in seen) < count:
            line = proc.stderr.readline()
            assert line, f"ramparts dev ended before {text!r}:\n{''.join(seen)}"
            seen.append(line)

    try:
        wait_for("ramparts: window 'main' loaded app://dev.ramparts.test/")
        pid = int((app_dir / "server.pid").read_text())
        with (app_dir / "testapp_cmds.py").open("a") as f:
            f.write("\n# changed\n")
        wait_for("testapp_cmds.py changed: restarting")
        wait_for("ramparts: window 'main' loaded app://dev.ramparts.test/", 2)
        assert int((app_dir / "server.pid").read_text()) == pid and psutil.pid_exists(pid)
        assert sum("ramparts dev: starting `" in line for line in seen) == 1, "".join(seen)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
    finally:
        proc.kill()
    assert not listening(port)


def test_types_need_no_built_ui(tmp_path: Path) -> None:
    """A vite-ts app writes its .d.ts before its first build, when its ui folder is not
    there yet."""
    app_dir = write_app(tmp_path / "app", capabilities="")
    shutil.rmtree(app_dir / "ui")
    with_dev_table(app_dir, 'url = "http://127.0.0.1:5173"')
    done = subprocess.run(
        [sys.executable, "-m", "ramparts", "types", str(app_dir)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert '"add": { args: { a: number; b: number; }; result: number }' in done.stdout


def test_a_command_that_is_not_there_is_named(tmp_path: Path) -> None:
    app_dir = dev_app(tmp_path / "app", free_port(), command="no-such-dev-server --port 1")
    done = dev(app_dir, "return 1;")
    assert done.returncode == 1
    assert "error: `no-such-dev-server --port 1` did not start: No such file" in done.stderr
    app_dir = with_dev_table(
        write_app(tmp_path / "built", capabilities=""),
        'before_build_command = "no-such-build-tool"',
    )
    done = build(app_dir, tmp_path)
    assert done.returncode == 1
    assert "the before_build_command `no-such-build-tool` did not start: No such file" in (
        done.stderr
    )
