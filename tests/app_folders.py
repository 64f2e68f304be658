"""Throwaway app folders for tests: the page, an app commands module and the config.

Shared by the core's tests (``tests/``) and the plugins' (``plugins/*/tests/``), which
find it on the path that ``pythonpath`` in the root ``pyproject.toml`` adds.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

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
