"""The documentation site builds with ``mkdocs build --strict``, offline: this is the CI
step for the docs. Strict mode fails on a broken link or anchor between pages and on a
page missing from the nav."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_site_builds_strict(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    # No network: a proxy that refuses everything makes any fetch fail loudly.
    env.update(HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "index.html").is_file()
    for page in ("getting-started", "tutorial", "plugins", "cli", "config", "capabilities/fs"):
        assert (tmp_path / page / "index.html").is_file(), page
    assert (tmp_path / "search" / "search_index.json").is_file()  # search, built locally
    html = (tmp_path / "plugins" / "index.html").read_text(encoding="utf-8")
    assert "ramparts_dialog_answer" in html
    assert "fonts.googleapis.com" not in html  # nothing the reader's browser must fetch
