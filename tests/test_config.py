"""Config loading: valid configs load; every error names the file, key, found, expected."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ramparts.config import load_config
from ramparts.errors import ConfigError


def app_with(tmp_path: Path, body: str) -> Path:
    (tmp_path / "ui").mkdir(exist_ok=True)
    (tmp_path / "ui" / "index.html").write_text("<!doctype html><title>x</title>")
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(body))
    return tmp_path


BASE = """
[project]
version = "2.0.0"
[tool.ramparts]
name = "X"
identifier = "com.example.x"
"""


def test_minimal_config_gets_safe_defaults(tmp_path: Path) -> None:
    c = load_config(app_with(tmp_path, BASE))
    assert c.name == "X" and c.identifier == "com.example.x" and c.version == "2.0.0"
    assert c.origin == "app://com.example.x"
    assert c.security.handles == "per-session" and c.security.command_timeout == 30.0
    assert c.capabilities == {} and c.ui_events == frozenset()
    assert c.window.title == "X" and (c.window.width, c.window.height) == (900, 640)


def test_full_config(tmp_path: Path) -> None:
    c = load_config(
        app_with(
            tmp_path,
            BASE
            + """
        commands = "x.commands"
        [tool.ramparts.window]
        title = "Title"
        width = 300
        height = 200
        resizable = false
        [tool.ramparts.security]
        handles = "per-call"
        command_timeout = 5
        csp = { "img-src" = ["data:"] }
        [tool.ramparts.events]
        from_ui = ["saved", "app:closed"]
        [tool.ramparts.capabilities.fs]
        allow = ["read_text"]
        scope = { allow = ["$APPDATA/**"] }
    """,
        )
    )
    assert c.name == "X" and c.commands == "x.commands"
    assert c.window.resizable is False and c.window.width == 300
    assert c.security.handles == "per-call" and c.security.command_timeout == 5.0
    assert c.security.csp == {"img-src": ("data:",)}
    assert c.ui_events == {"saved", "app:closed"}
    fs = c.capabilities["fs"]
    assert fs.allow == ("read_text",) and fs.options == {"scope": {"allow": ["$APPDATA/**"]}}


@pytest.mark.parametrize(
    ("body", "key", "expected"),
    [
        ("[tool.ramparts]\nidentifier = 'com.example.x'\n", "tool.ramparts.name", "display name"),
        (
            "[tool.ramparts]\nname = 'X'\nidentifier = 'Not An Id'\n",
            "tool.ramparts.identifier",
            "reverse-DNS",
        ),
        (BASE + "ui = 'nowhere'\n", "tool.ramparts.ui", "existing folder"),
        (BASE + "entry = '../secret.html'\n", "tool.ramparts.entry", "a file inside"),
        (BASE + "commands = 'not a module'\n", "tool.ramparts.commands", "module path"),
        (BASE + "colour = 'blue'\n", "tool.ramparts.colour", "no such key"),
        (BASE + "[tool.ramparts.window]\nwidth = -5\n", "tool.ramparts.window.width", "pixels > 0"),
        (
            BASE + "[tool.ramparts.window]\nwidth = '800'\n",
            "tool.ramparts.window.width",
            "whole number",
        ),
        (
            BASE + "[tool.ramparts.window]\nresizable = 1\n",
            "tool.ramparts.window.resizable",
            "true or false",
        ),
        (
            BASE + "[tool.ramparts.security]\nhandles = 'random'\n",
            "tool.ramparts.security.handles",
            "'per-call'",
        ),
        (
            BASE + "[tool.ramparts.security]\ncommand_timeout = 0\n",
            "tool.ramparts.security.command_timeout",
            "> 0",
        ),
        (
            BASE + "[tool.ramparts.security]\nhandle = 'per-call'\n",
            "tool.ramparts.security.handle",
            "no such key",
        ),
        (
            BASE + "[tool.ramparts.security]\ncsp = \"script-src 'unsafe-inline'\"\n",
            "tool.ramparts.security.csp",
            "script injection",
        ),
        (
            BASE + "[tool.ramparts.security]\ncsp = { 'frame-ancestors' = ['*'] }\n",
            "tool.ramparts.security.csp",
            "fixed",
        ),
        (
            BASE + "[tool.ramparts.events]\nfrom_ui = ['bad name!']\n",
            "tool.ramparts.events.from_ui",
            "names of letters",
        ),
        (
            BASE + "[tool.ramparts.capabilities.fs]\nscope = {}\n",
            "tool.ramparts.capabilities.fs.allow",
            "command names",
        ),
        (
            BASE + "[tool.ramparts.capabilities.fs]\nallow = 'read_text'\n",
            "tool.ramparts.capabilities.fs.allow",
            "list",
        ),
        (
            BASE + "[tool.ramparts.capabilities.Fs]\nallow = []\n",
            "tool.ramparts.capabilities.Fs",
            "capability name",
        ),
        (
            BASE + "[tool.ramparts.capabilities.invoke]\nallow = []\n",
            "tool.ramparts.capabilities.invoke",
            "reserved",
        ),
    ],
)
def test_errors_name_file_key_found_expected(
    tmp_path: Path, body: str, key: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(app_with(tmp_path, body))
    e = err.value
    assert e.key == key
    assert expected in e.expected
    assert e.file == str(tmp_path / "pyproject.toml")
    assert str(e).startswith(f"{tmp_path / 'pyproject.toml'}: {key}: found ")


def test_missing_file_table_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"pyproject\.toml in the app folder"):
        load_config(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    with pytest.raises(ConfigError, match=r"tool\.ramparts: found nothing \(the key is missing\)"):
        load_config(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.ramparts\n")
    with pytest.raises(ConfigError, match="valid TOML"):
        load_config(tmp_path)


WINDOWS = (
    BASE
    + """
[tool.ramparts.capabilities.fs]
allow = []
[tool.ramparts.capabilities.sample]
allow = []
[[tool.ramparts.windows]]
label = "main"
capabilities = ["fs"]
[[tool.ramparts.windows]]
label = "tools"
entry = "tools.html"
capabilities = ["sample"]
app_commands = false
width = 300
"""
)


def test_windows(tmp_path: Path) -> None:
    app = app_with(tmp_path, WINDOWS)
    (app / "ui" / "tools.html").write_text("<!doctype html>")
    c = load_config(app)
    main, tools = c.windows
    assert c.window is main and main.label == "main" and main.capabilities == ("fs",)
    assert main.start is True and main.app_commands is True and main.entry == "index.html"
    assert tools.entry == "tools.html" and tools.capabilities == ("sample",)
    assert tools.start is False and tools.app_commands is False and tools.width == 300
    assert c.window_named("tools") is tools and c.window_named("nope") is None


def test_single_window_gets_every_capability(tmp_path: Path) -> None:
    c = load_config(app_with(tmp_path, BASE + "[tool.ramparts.capabilities.fs]\nallow = []\n"))
    assert [w.label for w in c.windows] == ["main"] and c.window.capabilities == ("fs",)


@pytest.mark.parametrize(
    ("extra", "key", "expected"),
    [
        ('[[tool.ramparts.windows]]\nlabel = "main"\n', "tool.ramparts.windows[2].label", "unique"),
        (
            '[[tool.ramparts.windows]]\nlabel = "x"\ncapabilities = ["shell"]\n',
            "tool.ramparts.windows[2].capabilities",
            "declared",
        ),
        (
            '[[tool.ramparts.windows]]\nlabel = "x"\nentry = "missing.html"\n',
            "tool.ramparts.windows[2].entry",
            "a file inside",
        ),
        (
            '[[tool.ramparts.windows]]\nlabel = "Bad Label"\n',
            "tool.ramparts.windows[2].label",
            "unique",
        ),
        (
            '[[tool.ramparts.windows]]\nlabel = "x"\ncolour = 1\n',
            "tool.ramparts.windows[2].colour",
            "no such key",
        ),
        ("[tool.ramparts.window]\ntitle = 'x'\n", "tool.ramparts.window", "not both"),
    ],
)
def test_window_errors(tmp_path: Path, extra: str, key: str, expected: str) -> None:
    app = app_with(tmp_path, WINDOWS + extra)
    (app / "ui" / "tools.html").write_text("<!doctype html>")
    with pytest.raises(ConfigError) as err:
        load_config(app)
    assert err.value.key == key and expected in err.value.expected


def test_web_permissions_are_per_window_and_none_by_default(tmp_path: Path) -> None:
    c = load_config(
        app_with(
            tmp_path,
            BASE
            + """
        [[tool.ramparts.windows]]
        label = "main"
        web = ["microphone", "file-drop", "microphone"]
        [[tool.ramparts.windows]]
        label = "other"
    """,
        )
    )
    assert c.windows[0].web == ("microphone", "file-drop")
    assert c.windows[1].web == ()
    (tmp_path / "one").mkdir()
    single = app_with(tmp_path / "one", BASE + '[tool.ramparts.window]\nweb = ["camera"]\n')
    assert load_config(single).window.web == ("camera",)
    assert load_config(app_with(tmp_path, BASE)).window.web == ()


@pytest.mark.parametrize(
    ("table", "value", "found", "expected"),
    [
        ("window", '["microphone", "midi"]', "'midi'", "one of microphone, camera, screen-capture"),
        ("window", '"microphone"', "'microphone'", "a list of web permission names"),
        ("window", "[1]", "[1]", "a list of web permission names"),
        ("windows", '["Camera"]', "'Camera'", "file-input, file-drop"),
    ],
)
def test_web_permission_errors_name_the_key_and_the_valid_names(
    tmp_path: Path, table: str, value: str, found: str, expected: str
) -> None:
    head = (
        "[tool.ramparts.window]"
        if table == "window"
        else '[[tool.ramparts.windows]]\nlabel = "main"'
    )
    with pytest.raises(ConfigError) as e:
        load_config(app_with(tmp_path, BASE + f"{head}\nweb = {value}\n"))
    key = "tool.ramparts.window.web" if table == "window" else "tool.ramparts.windows[0].web"
    assert e.value.key == key
    assert f"found {found}" in str(e.value) and expected in str(e.value)


def test_a_misspelt_key_draws_the_likely_intended_one(tmp_path: Path) -> None:
    cap = BASE + "[tool.ramparts.capabilities.fs]\nalow = []\n"
    with pytest.raises(ConfigError, match=r"fs\.allow: .*found 'alow' instead: did you mean"):
        load_config(app_with(tmp_path, cap))
    window = BASE + "[tool.ramparts.window]\nwidht = 800\n"
    with pytest.raises(ConfigError) as info:
        load_config(app_with(tmp_path, window))
    assert info.value.key == "tool.ramparts.window.widht"
    assert info.value.expected == "no such key (did you mean 'width'?)"
