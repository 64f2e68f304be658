"""``ramparts dev`` as a dev loop: page errors on stderr, a headless run that says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from app_folders import write_app

pytestmark = pytest.mark.webview

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


def test_dev_without_display_says_headless_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
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
