"""Window control without a webview: the window keys' validation, the remembered state
file (corrupt, malformed, atomic), the ``window`` capability's config, and what
``ramparts check``, ``ramparts audit`` and ``ramparts types`` say about its grants."""

from __future__ import annotations

import json
import logging
import textwrap
from pathlib import Path

import attrs
import pytest
from app_folders import write_app
from grant_reports import audited, check_lines, refusals

from ramparts.app import App
from ramparts.backends import WindowEventKind, WindowState
from ramparts.builtins.window import EVENT_KINDS
from ramparts.config import WindowConfig, load_config
from ramparts.desktop.windows import load_state, restored, save_state
from ramparts.errors import ConfigError, PluginError
from ramparts.release.audit import render_table


def _config(tmp_path: Path, window: str, top: str = "") -> tuple[WindowConfig, ...]:
    """The windows of an app with ``window`` after its tables, ``top`` in [tool.ramparts]."""
    app = write_app(tmp_path / "app", capabilities=textwrap.dedent(window))
    file = app / "pyproject.toml"
    file.write_text(file.read_text().replace("[tool.ramparts]\n", f"[tool.ramparts]\n{top}\n", 1))
    return load_config(app).windows


def test_every_key_is_read(tmp_path: Path) -> None:
    main, tool = _config(
        tmp_path,
        """
        [[tool.ramparts.windows]]
        label = "main"
        min_width = 300
        min_height = 200
        max_width = 1200
        max_height = 900
        x = -20
        y = 40
        fullscreen = true
        maximized = true
        frameless = true
        always_on_top = true
        background = "#1E1E2E"
        [[tool.ramparts.windows]]
        label = "tool"
        hidden = true
        center = true
        remember_state = false
        """,
        top="remember_window_state = true",
    )
    assert (main.min_size, main.max_size, main.position) == ((300, 200), (1200, 900), (-20, 40))
    assert main.fullscreen and main.maximized and main.frameless and main.always_on_top
    assert main.background == "#1e1e2e" and main.remember_state and not main.hidden
    assert tool.hidden and tool.position is None and not tool.remember_state
    assert (tool.min_size, tool.max_size, tool.background) == (None, None, None)


@pytest.mark.parametrize(
    ("keys", "key", "expected"),
    [
        ("min_width = 100", "windows[0].min_height", "with min_width"),
        ("max_height = 2000", "windows[0].max_width", "with max_height"),
        ("min_width = 1000\nmin_height = 10", "windows[0].min_width", "at most the window's width"),
        ("max_width = 100\nmax_height = 1000", "windows[0].max_width", "at least the window's"),
        ("min_width = 0\nmin_height = 10", "windows[0].min_width", "pixels > 0"),
        ("x = 10", "windows[0].y", "with x"),
        ("x = 1\ny = 2\ncenter = true", "windows[0].center", "absent when x and y"),
        ("x = 1.5\ny = 2", "windows[0].x", "whole number"),
        ("background = 'red'", "windows[0].background", "#rrggbb"),
        ("background = '#12345'", "windows[0].background", "#rrggbb"),
        ("frameless = 'yes'", "windows[0].frameless", "true or false"),
        ("always_on_top = 1", "windows[0].always_on_top", "true or false"),
        ("remember_state = 1", "windows[0].remember_state", "true or false"),
        ("fulscreen = true", "windows[0].fulscreen", "did you mean 'fullscreen'"),
    ],
)
def test_window_key_errors(tmp_path: Path, keys: str, key: str, expected: str) -> None:
    with pytest.raises(ConfigError) as e:
        _config(tmp_path, f'[[tool.ramparts.windows]]\nlabel = "main"\n{keys}\n')
    assert f"tool.ramparts.{key}:" in str(e.value) and expected in str(e.value)
    assert "pyproject.toml" in str(e.value)


def test_single_window_table_takes_the_keys_too(tmp_path: Path) -> None:
    (main,) = _config(tmp_path, "[tool.ramparts.window]\nhidden = true\nx = 5\ny = 6\n")
    assert main.hidden and main.position == (5, 6)
    with pytest.raises(ConfigError, match=r"tool\.ramparts\.window\.background"):
        _config(tmp_path, "[tool.ramparts.window]\nbackground = '#zzzzzz'\n")


SPEC = WindowConfig(title="t", width=640, height=480, min_size=(300, 200), max_size=(1000, 800))


def test_restored_takes_a_sound_entry_within_the_limits(tmp_path: Path) -> None:
    file = tmp_path / "state.json"
    entry = {"x": 5, "y": 6, "width": 5000, "height": 100, "maximized": True}
    spec = restored(SPEC, entry, file)
    assert (spec.width, spec.height, spec.position, spec.maximized) == (1000, 200, (5, 6), True)


@pytest.mark.parametrize(
    "entry",
    [
        "garbage",
        [1, 2],
        {"x": 1, "y": 2, "width": 3},
        {"x": "1", "y": 2, "width": 3, "height": 4},
        {"x": 1, "y": 2, "width": 0, "height": 4},
        {"x": 1, "y": 2, "width": 3, "height": 4, "maximized": "yes"},
        {"x": True, "y": 2, "width": 3, "height": 4},
    ],
)
def test_restored_ignores_a_malformed_entry(
    tmp_path: Path, entry: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="ramparts.desktop.windows"):
        assert restored(SPEC, entry, tmp_path / "s.json") is SPEC
    assert "ignoring the remembered state of window 'main'" in caplog.text


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe", b""])
def test_a_corrupt_state_file_is_ignored(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    file = tmp_path / "window-state.json"
    file.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="ramparts.desktop.windows"):
        assert load_state(file) == {}
    assert "ignoring the remembered window state" in caplog.text
    # Saving over it replaces it with a sound file.
    save_state(file, "main", WindowState(1, 2, 300, 200, False, False, False, True, True))
    assert json.loads(file.read_text())["main"]["width"] == 300


def test_save_keeps_the_normal_geometry_of_a_maximized_window(tmp_path: Path) -> None:
    file = tmp_path / "sub" / "window-state.json"  # the folder is made (0700)
    save_state(file, "main", WindowState(10, 20, 300, 200, False, False, False, True, True))
    save_state(file, "tool", WindowState(1, 1, 50, 50, False, False, False, True, False))
    save_state(file, "main", WindowState(0, 0, 1280, 1000, True, False, False, True, True))
    states = json.loads(file.read_text())
    assert states["main"] == {"x": 10, "y": 20, "width": 300, "height": 200, "maximized": True}
    assert states["tool"]["width"] == 50
    # The normal state seen this run wins over the one remembered before.
    normal = WindowState(5, 6, 310, 210, False, False, False, True, True)
    save_state(file, "main", WindowState(0, 0, 1280, 1000, False, False, True, True, True), normal)
    states = json.loads(file.read_text())
    assert states["main"] == {"x": 5, "y": 6, "width": 310, "height": 210, "maximized": False}
    assert (file.parent.stat().st_mode & 0o777) == 0o700
    assert [p.name for p in file.parent.iterdir()] == ["window-state.json"]  # no temp left


def test_event_kinds_are_one_list() -> None:
    from typing import get_args

    assert get_args(WindowEventKind) == EVENT_KINDS


CAPABILITY = """
[tool.ramparts.capabilities.window]
allow = ["open", "set_title", "maximize", "state"]
labels = ["tool"]
self = true
events = ["resized", "close-requested"]
[[tool.ramparts.windows]]
label = "main"
capabilities = ["window"]
[[tool.ramparts.windows]]
label = "tool"
"""


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ('self = "yes"', "window.self: found 'yes', expected true or false"),
        ('events = ["closed"]', "expected a list of window events: resized, moved"),
        ("events = 3", "a list of window events"),
        ("labels = 3", "a list of window labels"),
        ("selff = true", "selff"),
    ],
)
def test_capability_config_errors(tmp_path: Path, options: str, expected: str) -> None:
    caps = f"[tool.ramparts.capabilities.window]\nallow = []\n{options}\n"
    app = write_app(tmp_path / "app", capabilities=caps)
    with pytest.raises((ConfigError, PluginError)) as e:
        App.load(app)
    assert expected in str(e.value)


def test_check_shows_the_window_grants(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", capabilities=textwrap.dedent(CAPABILITY))
    lines, routes = check_lines(app)
    assert "  window       installed; allow = ['open', 'set_title', 'maximize', 'state']" in lines
    assert "               self = true" in lines
    assert '               events = ["resized", "close-requested"]' in lines
    assert "window.set_title" in routes and "window.minimize" not in routes


def test_audit_shows_the_window_grants(tmp_path: Path) -> None:
    options = {"labels": ["tool"], "self": True, "events": ["resized"]}
    window = {"allow": ["set_title", "maximize"], "options": options}
    table = render_table(audited(tmp_path / "artifact", {"window": window})).splitlines()
    assert f"{'window':12} {'set_title':24} {json.dumps(options, sort_keys=True)}" in table
    assert f"{'':12} {'maximize':24} " in table


def test_types_declare_the_window_commands(tmp_path: Path) -> None:
    from ramparts.typescript import app_declarations

    loaded = App.load(write_app(tmp_path / "app", capabilities=textwrap.dedent(CAPABILITY)))
    dts = app_declarations(loaded.config, loaded.registry)
    good = [
        'await ramparts.window.set_title({ title: "t" });',
        'await ramparts.window.maximize({ label: "tool" });',
        "const s = await ramparts.window.state({}); s;",
        'ramparts.events.on("ramparts:window-resized", (p) => { const w: number = p.width; w; });',
        'ramparts.events.on("ramparts:window-close-requested", (p) => { p.window; });',
    ]
    wrong = [
        "await ramparts.window.minimize({});",  # not in allow
        'ramparts.events.on("ramparts:window-resized", (p) => { const w: string = p.width; w; });',
    ]
    refusals(tmp_path, dts, good, wrong)  # tsc refuses exactly the wrong lines
    assert "ramparts:window-moved" not in dts  # not granted: no typed listener


def test_window_api_refuses_unknown_labels_and_bad_sizes(tmp_path: Path) -> None:
    from ramparts.desktop.windows import Window, WindowClosed

    loaded = App.load(write_app(tmp_path / "app", capabilities=textwrap.dedent(CAPABILITY)))
    with pytest.raises(KeyError):
        loaded.window("nope")
    tool: Window = loaded.window("tool")
    assert tool.is_open is False
    with pytest.raises(WindowClosed, match="window 'tool' is not open"):
        tool.set_title("x")
    with pytest.raises(ValueError, match="pixels > 0"):
        tool.set_size(0, 10)
    assert attrs.has(WindowState)
