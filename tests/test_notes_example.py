"""examples/notes, the app docs/tutorial.md builds (tests/test_tutorial.py checks that it
is exactly that), passes its own tests: its page in a headless webview, its command and
scopes through the bridge, its dialogs answered by a hook."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "examples" / "notes"


@pytest.mark.webview
def test_the_example_passes_its_own_tests() -> None:
    # This interpreter's environment has Ramparts and the app's capabilities; Ramparts
    # finds the app's commands in its src/. No cache folder is left in the example.
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
        cwd=APP,
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ.copy(),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " passed" in proc.stdout and "skipped" not in proc.stdout
