"""The ``clipboard`` capability from page JS in a real webview, on both engines: the
page's text goes through the backend to the toolkit's clipboard and back, and a page
whose app allows only ``write_text`` cannot read it, through the bridge or the engine.
The engine's own ``navigator.clipboard`` (``web = ["clipboard"]``) is a separate grant
to the same desktop clipboard."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_folders import write_app
from gtk_display import engine, gtk_display  # noqa: F401  # fixtures: both webview engines

from ramparts.testing import eval_in_app

pytestmark = [pytest.mark.webview, pytest.mark.usefixtures("engine")]

BOTH = """
[tool.ramparts.window]
web = ["clipboard"]

[tool.ramparts.capabilities.clipboard]
allow = ["write_text", "read_text"]
max_bytes = 64
"""
WRITE_ONLY = """
[tool.ramparts.capabilities.clipboard]
allow = ["write_text"]
"""


def test_the_page_writes_and_reads_the_desktop_clipboard_the_engine_reads_too(
    tmp_path: Path, ramparts_home: Path
) -> None:
    app = write_app(tmp_path / "app", capabilities=BOTH)
    result = eval_in_app(
        app,
        """
        const r = {};
        await ramparts.clipboard.write_text({ text: "copied: héllo ✓ 😀" });
        r.back = await ramparts.clipboard.read_text();
        await ramparts.clipboard.write_text({ text: "second" });
        r.again = await ramparts.clipboard.read_text();
        r.big = await ramparts.clipboard.write_text({ text: "x".repeat(65) }).catch((e) => e.code);
        r.kept = await ramparts.clipboard.read_text();   // a refused write changes nothing
        r.nul = await ramparts.clipboard.write_text({ text: "a\\u0000b" }).catch((e) => e.code);
        // the engine's navigator.clipboard, granted by web = ["clipboard"]: the same one
        r.engine = await navigator.clipboard.readText();
        await navigator.clipboard.writeText("from the engine");
        r.fromEngine = await ramparts.clipboard.read_text();
        return r;
        """,
        timeout=60,
    )
    assert result == {
        "back": "copied: héllo ✓ 😀",
        "again": "second",
        "big": "too_large",
        "kept": "second",
        "nul": "invalid_args",
        "engine": "second",
        "fromEngine": "from the engine",
    }


def test_a_page_allowed_to_write_cannot_read(tmp_path: Path, ramparts_home: Path) -> None:
    app = write_app(tmp_path / "app", capabilities=WRITE_ONLY)
    result = eval_in_app(
        app,
        """
        await ramparts.clipboard.write_text({ text: "the page's own text" });
        const engine = navigator.clipboard  // GTK: not there at all without the grant
          ? await navigator.clipboard.readText().then(() => "read", () => "refused")
          : "refused";
        return {
          names: Object.keys(ramparts.clipboard).sort(),
          invoke: await ramparts.invoke("clipboard.read_text").catch((e) => e.code),
          engine,
        };
        """,
        timeout=60,
    )
    assert result == {"names": ["write_text"], "invoke": "not_allowed", "engine": "refused"}
