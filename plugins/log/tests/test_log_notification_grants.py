"""What ``ramparts check``, ``ramparts audit`` and ``ramparts types`` say about the
``log`` and ``notification`` grants: each names exactly the commands ``allow`` lists and
the options the app set, and a built app holding one of these plugins undeclared fails
its audit even where the auditor has not installed it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_folders import write_app
from grant_reports import audited, check_lines, refused_as, types_text

from ramparts.app import App
from ramparts.release.audit import FIRST_PARTY, render_table
from ramparts.typescript import app_declarations

CAPABILITIES = """
[tool.ramparts.capabilities.log]
allow = ["info", "error"]
level = "warn"

[tool.ramparts.capabilities.notification]
allow = ["send"]
per_minute = 4
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return write_app(tmp_path / "app", capabilities=CAPABILITIES)


def test_check_shows_the_grants(app: Path) -> None:
    lines, routes = check_lines(app)
    assert "  log          installed; allow = ['info', 'error']" in lines
    assert '               level = "warn"' in lines
    assert "  notification installed; allow = ['send']" in lines
    assert "               per_minute = 4" in lines
    for route in ("log.info", "log.error", "notification.send"):
        assert route in routes
    assert "log.debug" not in routes and "notification.server" not in routes


def test_audit_shows_the_grants_and_finds_an_undeclared_plugin(tmp_path: Path) -> None:
    assert FIRST_PARTY["log"] == "ramparts_log"
    assert FIRST_PARTY["notification"] == "ramparts_notification"
    log = {"allow": ["info", "error"], "options": {"level": "warn"}}
    notification = {"allow": ["send"], "options": {"per_minute": 4}}
    # Nothing installed in the auditor's environment: the core knows these plugins.
    hidden = audited(tmp_path / "a", {"log": log}, "ramparts_notification")
    assert hidden.undeclared == {"notification": ["ramparts_notification"]} and not hidden.ok
    both = {"log": log, "notification": notification}
    shown = audited(tmp_path / "b", both, "ramparts_notification")
    assert shown.ok and shown.undeclared == {}
    table = render_table(shown).splitlines()
    assert f"{'log':12} {'info':24} {json.dumps({'level': 'warn'})}" in table
    assert f"{'':12} {'error':24} " in table
    assert f"{'notification':12} {'send':24} {json.dumps({'per_minute': 4})}" in table


def test_types_declare_exactly_the_allowed_commands(app: Path, tmp_path: Path) -> None:
    loaded = App.load(app)
    dts = app_declarations(loaded.config, loaded.registry)
    assert '"log.info": { args: { message: string; }; result: boolean };' in dts
    assert (
        '"notification.send": { args: { title: string; body?: string; '
        'urgency?: "low" | "normal" | "critical"; }; result: number };'
    ) in dts
    assert "log.debug" not in dts and "notification.server" not in dts
    good = [
        'const written: boolean = await ramparts.log.info({ message: "started" });',
        'await ramparts.log.error({ message: "failed" });',
        'const id: number = await ramparts.notification.send({ title: "Saved" });',
        'await ramparts.notification.send({ title: "t", body: "b", urgency: "low" });',
    ]
    wrong = [
        ('await ramparts.log.debug({ message: "x" });', "TS2339"),  # not in allow
        ('await ramparts.invoke("notification.server", {});', "TS2345"),
        ("await ramparts.log.info({ message: 3 });", "TS2322"),
        ('await ramparts.notification.send({ title: "t", urgency: "loud" });', "TS2322"),
        ('await ramparts.notification.send({ body: "no title" });', "TS2345"),
    ]
    # One compile: tsc must accept every good line and refuse each wrong one, on its line.
    refused_as(tmp_path, dts, good, wrong)


def test_types_from_the_command_line(app: Path, tmp_path: Path) -> None:
    text = types_text(app, tmp_path)
    assert '"log.info"' in text and '"notification.send"' in text
