"""``ramparts dev`` as a dev loop: page errors on stderr, a headless run that says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
