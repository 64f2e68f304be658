"""Shared fixtures: throwaway app folders and helpers to drive them in a real webview."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

# A built app that refuses to start shows the desktop's error dialog when no terminal
# shows stderr; tests capture stderr, so on a desktop each refusal would wait for a click.
os.environ["RAMPARTS_NO_DIALOG"] = "1"

INDEX_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>test</title>
<script src="app.js"></script></head><body><p id="p">test app</p></body></html>
"""

COMMANDS_PY = """
from ramparts import command, on, CallContext

RECEIVED = []

@command
def add(a: int, b: int) -> int:
    return a + b

@command
def shout(ctx: CallContext, text: str) -> str:
    ctx.emit("shouted", {"text": text.upper()})
    return text.upper()

@on("clicked")
def clicked(payload):
    RECEIVED.append(payload)
"""

#: The start of an app commands module whose pages leave results for the test to read
#: (``report``) and read what every window left (``reports``); append more commands.
REPORT_COMMANDS = """
from typing import Any

from ramparts import CallContext, command, on

REPORTS: list[Any] = []


@command
def report(value: Any) -> None:
    REPORTS.append(value)


@command
def reports() -> list[Any]:
    return REPORTS
"""


def write_app(
    root: Path,
    *,
    capabilities: str | None = None,
    security: str = "",
    files: dict[str, str] | None = None,
    commands: str = COMMANDS_PY,
    module: str = "testapp_cmds",
) -> Path:
    """Write an app folder under ``root`` and return it.

    ``capabilities`` is TOML placed after ``[tool.ramparts]`` (default: the ``sample``
    test capability with most commands allowed).
    """
    if capabilities is None:
        capabilities = textwrap.dedent(
            """
            [tool.ramparts.capabilities.sample]
            allow = ["echo", "echo_bytes", "say", "boom", "hang", "slow_async", "unsendable"]
            words = ["hello"]
            """
        )
    root.mkdir(parents=True, exist_ok=True)
    (root / "ui").mkdir(exist_ok=True)
    (root / "ui" / "index.html").write_text(INDEX_HTML)
    (root / "ui" / "app.js").write_text("window.appLoaded = true;\n")
    for name, content in (files or {}).items():
        target = root / "ui" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    (root / f"{module}.py").write_text(commands)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [project]
            name = "testapp"
            version = "1.2.3"

            [tool.ramparts]
            name = "Test App"
            identifier = "dev.ramparts.test"
            commands = "{module}"

            [tool.ramparts.events]
            from_ui = ["clicked"]

            [tool.ramparts.security]
            {security}
            """
        )
        + capabilities
    )
    return root


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return write_app(tmp_path / "app")


def read_keylog(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
