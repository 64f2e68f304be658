"""Capability plugins: only declared ones are imported; clear errors otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import write_app
from typer.testing import CliRunner

from ramparts.backends import get_backend
from ramparts.cli import app as cli
from ramparts.errors import BackendError, ConfigError, PluginError

PROBE = """
import json, sys
from ramparts.app import App
app = App.load(sys.argv[1])
print(json.dumps({
    "routes": sorted(app.registry.routes),
    "loaded": sorted(m for m in sys.modules if m.startswith("ramparts_testplugins")),
    "webview": "webview" in sys.modules or "PyQt6" in sys.modules,
}))
"""


def probe(app_dir: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(app_dir)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_only_declared_plugins_are_imported(app_dir: Path) -> None:
    result = probe(app_dir)
    assert result["loaded"] == ["ramparts_testplugins", "ramparts_testplugins.sample"]
    assert "ramparts_testplugins.spy" not in result["loaded"]  # installed, never listed
    assert result["webview"] is False  # loading an app does not start the GUI stack
    assert "sample.secret" not in result["routes"]  # not in the allow list: not registered
    assert {"add", "shout", "sample.echo"} <= set(result["routes"])  # type: ignore[arg-type]


def test_no_capabilities_imports_no_plugin(tmp_path: Path) -> None:
    result = probe(write_app(tmp_path / "app", capabilities=""))
    assert result["loaded"] == []
    assert result["routes"] == ["add", "shout"]


def load(app_dir: Path) -> None:
    from ramparts.app import App

    App.load(app_dir)


def test_missing_plugin_names_the_package(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "a",
        capabilities="[tool.ramparts.capabilities.teleport]\nallow = []\n",
        module="m_missing",
    )
    with pytest.raises(
        PluginError,
        match=r"tool\.ramparts\.capabilities\.teleport .* `pip install ramparts-teleport`",
    ):
        load(app_dir)


def test_plugin_describing_another_name_is_refused(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "a",
        capabilities="[tool.ramparts.capabilities.broken]\nallow = []\n",
        module="m_broken",
    )
    with pytest.raises(PluginError, match="installed as 'broken' but describes 'not-broken'"):
        load(app_dir)


def test_allow_list_names_must_exist(tmp_path: Path) -> None:
    caps = "[tool.ramparts.capabilities.sample]\nallow = ['echo', 'format_disk']\n"
    with pytest.raises(ConfigError) as err:
        load(write_app(tmp_path / "a", capabilities=caps, module="m_allow"))
    assert err.value.key == "tool.ramparts.capabilities.sample.allow"
    assert err.value.found == "format_disk" and "echo" in err.value.expected


def test_capability_options_are_validated_by_the_plugin(tmp_path: Path) -> None:
    caps = "[tool.ramparts.capabilities.sample]\nallow = []\nwords = 'hello'\n"
    with pytest.raises(ConfigError) as err:
        load(write_app(tmp_path / "a", capabilities=caps, module="m_opts"))
    assert err.value.key == "tool.ramparts.capabilities.sample.words"


def test_event_handler_must_be_declared(tmp_path: Path) -> None:
    commands = "from ramparts import on\n@on('secret_event')\ndef h(p): pass\n"
    with pytest.raises(ConfigError, match="secret_event"):
        load(write_app(tmp_path / "a", commands=commands, module="m_events"))


def test_check_reports_config_and_plugins(app_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["check", str(app_dir)])
    assert result.exit_code == 0, result.output
    assert "sample       installed; allow = ['echo'," in result.output
    unlisted = next(
        line for line in result.output.splitlines() if line.startswith("installed but not")
    )
    assert "broken" in unlisted and "spy" in unlisted and "sample" not in unlisted
    assert "default-src 'self'" in result.output
    assert "routes:" in result.output and "sample.echo" in result.output


def test_check_fails_on_missing_plugin_and_bad_config(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "a", capabilities="[tool.ramparts.capabilities.teleport]\nallow = []\n"
    )
    result = CliRunner().invoke(cli, ["check", str(app_dir)])
    assert result.exit_code == 1
    assert "teleport     MISSING (pip install ramparts-teleport)" in result.output
    (app_dir / "pyproject.toml").write_text("[tool.ramparts]\nname = 1\n")
    result = CliRunner().invoke(cli, ["check", str(app_dir)])
    assert result.exit_code == 1 and "tool.ramparts.name: found 1, expected" in result.output
    assert "Traceback" not in result.output


def test_check_warns_of_glob_characters_that_scopes_match_literally(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "a",
        module="m_literal_globs",
        capabilities=textwrap.dedent(
            r"""
            [tool.ramparts.capabilities.fs]
            allow = []
            [tool.ramparts.capabilities.fs.scope]
            allow = ["$APPDATA/{notes,drafts}/**", "$APPDATA/plain/*", "$APPDATA/x\\[1\\]"]
            deny = ["$APPDATA/[ab]*"]
            """
        ),
    )
    result = CliRunner().invoke(cli, ["check", str(app_dir)])
    assert result.exit_code == 0, result.output  # a warning, not an error
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: tool.ramparts.capabilities.fs.scope.allow: '$APPDATA/{notes,drafts}/**': "
        "{ } match literally in path scopes (only * ? ** are wildcards): list each "
        "alternative as its own pattern, or escape the character (\\[) to keep it literal",
        "warning: tool.ramparts.capabilities.fs.scope.deny: '$APPDATA/[ab]*': "
        "[ ] match literally in path scopes (only * ? ** are wildcards): list each "
        "alternative as its own pattern, or escape the character (\\[) to keep it literal",
    ]  # the escaped pattern draws none


def test_plugins_lists_installed_and_listed(app_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["plugins", str(app_dir)])
    assert result.exit_code == 0
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert lines["sample"].endswith("listed") and not lines["sample"].endswith("not listed")
    assert lines["spy"].endswith("not listed")


def test_other_webview_backends_are_refused(app_dir: Path) -> None:
    """If pywebview ever picks another renderer, the app must not fall back to js_api."""
    script = textwrap.dedent(
        """
        import sys
        from ramparts.app import App
        from ramparts.backends import qt
        from ramparts.errors import BackendError
        qt.QtBackend.renderer = "gtkwebkit2"   # what pywebview reports for its GTK backend
        try:
            App.load(sys.argv[1]).run(headless=True)
        except BackendError as e:
            print("refused:", e)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(app_dir)], capture_output=True, text=True, timeout=60
    )
    assert (
        "refused: Ramparts needs the Qt WebEngine backend; pywebview chose 'qtwebengine'"
        in out.stdout
    ), out.stderr


def test_an_unknown_backend_is_refused_with_the_known_ones() -> None:
    with pytest.raises(
        BackendError, match="unknown webview backend 'cocoa'; the known ones: gtk, qt"
    ):
        get_backend("cocoa")


def test_imported_commands_are_not_exposed_by_bare_name(tmp_path: Path) -> None:
    commands = (
        "from ramparts import command\n"
        "from ramparts_testplugins.sample import echo, secret  # imported: not the app's\n"
        "@command\ndef own() -> int:\n    return 1\n"
    )
    result = probe(write_app(tmp_path / "app", commands=commands, module="m_imports"))
    assert "own" in result["routes"]
    assert "echo" not in result["routes"] and "secret" not in result["routes"]


def test_two_apps_with_one_commands_module_name_each_get_their_own(tmp_path: Path) -> None:
    """In one process (a test session), an app whose commands module has the name of one
    another app loaded before gets its own module, from its own folder."""
    from ramparts.app import App

    one = write_app(tmp_path / "one", capabilities="", module="shared_cmds")
    two = write_app(
        tmp_path / "two",
        capabilities="",
        module="shared_cmds",
        commands="from ramparts import command\n\n@command\ndef only_in_two() -> int:\n    return 2\n",
    )
    assert "add" in App.load(one).registry.routes
    routes = App.load(two).registry.routes
    assert "only_in_two" in routes and "add" not in routes
    assert "add" in App.load(one).registry.routes  # and back again
