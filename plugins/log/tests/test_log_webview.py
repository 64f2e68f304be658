"""The ``log`` capability from page JS in the real webview, on both engines: lines at
each level, a forged record that stays one line, a command the config does not allow,
a flood cut by the rate limit and reported once it ends, and the app's Python writing
to the same file. One app launch per engine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from app_folders import REPORT_COMMANDS, write_app
from gtk_display import engine, gtk_display  # noqa: F401  # fixtures: both webview engines

from ramparts.testing import app_dirs, eval_in_app, home_env

pytestmark = [pytest.mark.webview, pytest.mark.usefixtures("engine")]

COMMANDS = (
    REPORT_COMMANDS
    + """
import logging
from ramparts.testing import app_dirs


@command
def log_text() -> str:
    path = app_dirs("dev.ramparts.test")["APPLOG"] / "app.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


@command
def python_line(text: str) -> None:
    logging.getLogger("app.commands").info("python: %s", text)
"""
)

CAPABILITIES = """
[tool.ramparts.capabilities.log]
allow = ["info", "warn", "error"]
level = "info"
lines_per_second = 1
burst = 20
"""

FLOOD = 300

SCRIPT = """
const out = {};
out.namespace = Object.keys(ramparts.log).sort();
out.info = await ramparts.log.info({ message: "page started" });
out.warn = await ramparts.log.warn({ message: "careful" });
out.forged = await ramparts.log.error({
  message: "ok\\n2030-01-01T00:00:00.000Z ERROR app: forged\\u2028\\x1b[31m",
});
try {
  await ramparts.invoke("log.debug", { message: "not allowed" });
  out.debug = "written";
} catch (e) {
  out.debug = e.code;
}
await ramparts.invoke("python_line", { text: "from a command" });
let written = 0;
for (let i = 0; i < %(flood)d; i++) {
  if (await ramparts.log.info({ message: "flood " + i })) written++;
}
out.written = written;
const deadline = Date.now() + 60000;
let text = "";
while (Date.now() < deadline) {
  text = await ramparts.invoke("log_text");
  if (text.includes("page lines dropped") && text.endsWith("\\n")) break;  // a whole line
  await new Promise((r) => setTimeout(r, 100));
}
out.text = text;
return out;
"""

RECORD = re.compile(r"^\S+Z (INFO|WARNING|ERROR) (\S+): (.*)$")


def test_page_logs_to_the_app_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = write_app(tmp_path / "app", commands=COMMANDS, capabilities=CAPABILITIES)
    for key, value in home_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)  # for the app process and for app_dirs below
    out = eval_in_app(app, SCRIPT % {"flood": FLOOD}, timeout=120)
    assert out["namespace"] == ["error", "info", "warn"]  # debug: not in allow
    assert out["debug"] == "not_allowed"
    assert out["info"] is out["warn"] is out["forged"] is True
    lines = out["text"].splitlines()
    records = [RECORD.match(line) for line in lines]
    assert all(records), [line for line, m in zip(lines, records, strict=True) if not m]
    found = [m.groups() for m in records if m]
    assert found[:4] == [
        ("INFO", "app.page.main", "page started"),
        ("WARNING", "app.page.main", "careful"),
        (
            "ERROR",
            "app.page.main",
            "ok\\n2030-01-01T00:00:00.000Z ERROR app: forged\\u2028\\x1b[31m",
        ),
        ("INFO", "app.commands", "python: from a command"),
    ]
    flood = [r for r in found if r[2].startswith("flood ")]
    # the burst of 20, less the three lines before the flood, then about one a second
    assert len(flood) == out["written"] and 17 <= out["written"] < FLOOD
    (report,) = [r for r in found if r[1] == "app.page"]
    assert report[0] == "WARNING"
    assert report[2].startswith(f"{FLOOD - out['written']} page lines dropped")
    assert report[2].endswith(f"by window: main {FLOOD - out['written']}")
    log = app_dirs("dev.ramparts.test")["APPLOG"] / "app.log"
    assert log.read_text(encoding="utf-8") == out["text"]  # the file the page read back
