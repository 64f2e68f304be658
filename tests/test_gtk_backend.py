"""Choosing the engine (``backend`` in ``[tool.ramparts]``, ``RAMPARTS_BACKEND``), and
what only the WebKitGTK backend has to show: its substitutes for what Qt reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_app

from ramparts.backends import BACKENDS
from ramparts.config import BACKEND_NAMES, load_config
from ramparts.errors import ConfigError


def with_backend(app: Path, name: str) -> Path:
    """``app`` with ``backend = name`` in its ``[tool.ramparts]``."""
    toml = app / "pyproject.toml"
    text = toml.read_text()
    toml.write_text(text.replace("[tool.ramparts]\n", f'[tool.ramparts]\nbackend = "{name}"\n', 1))
    return app


def test_every_backend_name_has_a_backend() -> None:
    assert set(BACKEND_NAMES) == set(BACKENDS)


def test_qt_is_the_default_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAMPARTS_BACKEND", raising=False)
    assert load_config(write_app(tmp_path / "a")).backend == "qt"
    chosen = with_backend(write_app(tmp_path / "b"), "gtk")
    assert load_config(chosen).backend == "gtk"
    monkeypatch.setenv("RAMPARTS_BACKEND", "qt")
    assert load_config(chosen).backend == "qt"


def test_an_unknown_backend_is_a_config_error_naming_the_choices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAMPARTS_BACKEND", raising=False)
    app = with_backend(write_app(tmp_path / "a"), "cocoa")
    with pytest.raises(
        ConfigError, match=r"tool\.ramparts\.backend: found 'cocoa', expected one of 'qt', 'gtk'"
    ):
        load_config(app)
    monkeypatch.setenv("RAMPARTS_BACKEND", "edge")
    with pytest.raises(
        ConfigError, match=r"RAMPARTS_BACKEND: found 'edge', expected one of 'qt', 'gtk'"
    ):
        load_config(write_app(tmp_path / "b"))
