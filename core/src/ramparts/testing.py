"""Helpers for testing Ramparts apps and capability plugins.

``eval_in_app`` runs an app headless in a subprocess (one webview per process, as Qt
requires) and returns what a page script resolved to: the same machinery as
``ramparts dev APP --headless --eval FILE.js``. The script has exactly the page's
privileges: it reaches Python only through ``window.ramparts``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["PageError", "eval_in_app"]


class PageError(AssertionError):
    """The page script failed, timed out, or the app did not start.

    :ivar returncode: the ``ramparts dev`` exit code (1 error, 2 timeout).
    :ivar stderr: everything the app printed on stderr.
    """

    def __init__(self, message: str, returncode: int, stderr: str) -> None:
        super().__init__(f"{message}\n--- app stderr ---\n{stderr}")
        self.returncode = returncode
        self.stderr = stderr


def eval_in_app(
    app_dir: str | Path,
    script: str,
    *,
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    trace: bool = False,
) -> Any:
    """Run ``script`` (the body of an async function) in the app's page; return its value.

    :param app_dir: the app folder.
    :param script: JS; ``return`` a JSON-serialisable value (``await`` is allowed).
    :param timeout: seconds the script may take once the page has loaded.
    :param env: extra environment variables for the app process.
    :param trace: also print console lines and bridge calls to the app's stderr.
    :raises PageError: on a JS error, a timeout, or an app that did not start.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False, encoding="utf-8") as f:
        f.write(script)
        path = f.name
    try:
        cmd = [
            sys.executable,
            "-m",
            "ramparts",
            "dev",
            str(app_dir),
            "--headless",
            "--eval",
            path,
            "--timeout",
            str(timeout),
        ]
        if trace:
            cmd.append("--trace")
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout + 60,
            env={**os.environ, **(env or {})},
        )
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        raise PageError(
            f"page script failed (exit {proc.returncode})", proc.returncode, proc.stderr
        )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if not lines:
        raise PageError("the app printed no result", proc.returncode, proc.stderr)
    return json.loads(lines[-1])
