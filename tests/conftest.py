"""Shared fixtures: throwaway app folders and helpers to drive them in a real webview."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from app_folders import COMMANDS_PY, REPORT_COMMANDS, write_app
from gtk_display import (  # noqa: F401  # fixtures: both webview engines
    engine,
    gtk_display,
    window_manager,
    wm_display,
)

# The app folder helpers moved to app_folders (the plugins' tests use them too); the
# core's tests still import them from here.
__all__ = ["COMMANDS_PY", "REPORT_COMMANDS", "read_keylog", "write_app"]

# A built app that refuses to start shows the desktop's error dialog when no terminal
# shows stderr; tests capture stderr, so on a desktop each refusal would wait for a click.
os.environ["RAMPARTS_NO_DIALOG"] = "1"


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return write_app(tmp_path / "app")


def read_keylog(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
