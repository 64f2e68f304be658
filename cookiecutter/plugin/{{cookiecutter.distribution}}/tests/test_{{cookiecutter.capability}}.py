"""Tests for the ``{{ cookiecutter.capability }}`` capability.

``ramparts_bridge`` calls commands through the real bridge (config validation, the
allow list, argument checks, scopes) without a window; ``ramparts_home`` makes
``$APPDATA`` a throwaway folder. Both are fixtures that come with ramparts. The last
test runs a real app headless and calls the command from page JS.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from ramparts import CommandFailed, ConfigError, InvalidArgs, NotAllowed, OutOfScope, TooLarge
from ramparts.testing import Bridge, app_dirs, eval_in_app

CAP = "{{ cookiecutter.capability }}"
IDENT = "dev.example.{{ cookiecutter.capability | replace('_', '-') }}-test"
CONFIG = {
    CAP: {
        "allow": ["example"],
        "scope": {"allow": ["$APPDATA/**"], "deny": ["$APPDATA/private/**"]},
    }
}


def appdata() -> Path:
    """Where ``$APPDATA`` points for this test's app, on any OS (under ``ramparts_home``
    where the OS lets a test move it)."""
    folder = app_dirs(IDENT)["APPDATA"]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_example_reads_the_start_of_a_file_in_scope(
    ramparts_bridge: Callable[..., Bridge], ramparts_home: Path
) -> None:
    (appdata() / "a.txt").write_text("one\ntwo\nthree\n")
    bridge = ramparts_bridge(capabilities=CONFIG, identifier=IDENT)
    got = bridge.call(f"{CAP}.example", {"path": "$APPDATA/a.txt", "count": 2})
    assert got == {"size": 14, "lines": ["one", "two"]}
    got = bridge.call(f"{CAP}.example", {"path": "$APPDATA/a.txt"})
    assert got["lines"] == ["one", "two", "three"]


def test_the_scope_holds(ramparts_bridge: Callable[..., Bridge], ramparts_home: Path) -> None:
    (appdata() / "private").mkdir()
    (appdata() / "private" / "key").write_text("secret")
    (ramparts_home / "outside.txt").write_text("not in scope")
    bridge = ramparts_bridge(capabilities=CONFIG, identifier=IDENT)
    for path in ("$APPDATA/private/key", str(ramparts_home / "outside.txt")):
        with pytest.raises(OutOfScope):
            bridge.call(f"{CAP}.example", {"path": path})
    with pytest.raises(InvalidArgs):
        bridge.call(f"{CAP}.example", {"path": "$APPDATA/../../outside.txt"})
    bridge.session.grants.add_path(ramparts_home / "outside.txt")  # e.g. picked in a dialog
    got = bridge.call(f"{CAP}.example", {"path": str(ramparts_home / "outside.txt")})
    assert got == {"size": 12, "lines": ["not in scope"]}


def test_arguments_are_checked(ramparts_bridge: Callable[..., Bridge]) -> None:
    bridge = ramparts_bridge(capabilities=CONFIG, identifier=IDENT)
    for bad in ({"path": 42}, {"path": "$APPDATA/a.txt", "count": "2"}):  # by the bridge
        with pytest.raises(InvalidArgs):
            bridge.call(f"{CAP}.example", bad)
    with pytest.raises(InvalidArgs, match="1 or more"):  # by the command
        bridge.call(f"{CAP}.example", {"path": "$APPDATA/a.txt", "count": 0})


def test_limits_and_missing_files(
    ramparts_bridge: Callable[..., Bridge], ramparts_home: Path
) -> None:
    (appdata() / "big.txt").write_text("x" * 11)
    config = {CAP: {**CONFIG[CAP], "max_bytes": 10}}
    bridge = ramparts_bridge(capabilities=config, identifier=IDENT)
    with pytest.raises(TooLarge):
        bridge.call(f"{CAP}.example", {"path": "$APPDATA/big.txt"})
    with pytest.raises(CommandFailed, match="does not exist"):
        bridge.call(f"{CAP}.example", {"path": "$APPDATA/missing.txt"})


def test_nothing_is_callable_unless_allowed(ramparts_bridge: Callable[..., Bridge]) -> None:
    bridge = ramparts_bridge(capabilities={CAP: {"allow": []}}, identifier=IDENT)
    with pytest.raises(NotAllowed):
        bridge.call(f"{CAP}.example", {"path": "$APPDATA/a.txt"})


def test_config_errors_name_the_key(ramparts_bridge: Callable[..., Bridge]) -> None:
    with pytest.raises(ConfigError, match=rf"capabilities\.{CAP}\.max_bytes"):
        ramparts_bridge(capabilities={CAP: {"allow": [], "max_bytes": -1}})
    with pytest.raises(ConfigError, match=rf"capabilities\.{CAP}\.scope\.allow"):
        ramparts_bridge(capabilities={CAP: {"allow": [], "scope": {"allow": ["relative/*"]}}})


def test_from_page_js_in_a_headless_app(tmp_path: Path, ramparts_home: Path) -> None:
    (appdata() / "a.txt").write_text("hello\nworld\n")
    app = tmp_path / "app"
    (app / "ui").mkdir(parents=True)
    (app / "ui" / "index.html").write_text("<!doctype html><title>t</title>")
    (app / "pyproject.toml").write_text(
        f"""
[tool.ramparts]
name = "Test"
identifier = "{IDENT}"

[tool.ramparts.capabilities.{CAP}]
allow = ["example"]

[tool.ramparts.capabilities.{CAP}.scope]
allow = ["$APPDATA/**"]
"""
    )
    page_js = """
        const ok = await ramparts.CAP.example({ path: "$APPDATA/a.txt", count: 1 });
        const bad = await ramparts.CAP.example({ path: "/etc/hostname" }).catch((e) => e.code);
        return { lines: ok.lines, bad };
    """
    result = eval_in_app(app, page_js.replace("CAP", CAP))
    assert result == {"lines": ["hello"], "bad": "out_of_scope"}
