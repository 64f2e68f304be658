"""Pytest fixtures for Ramparts apps and capability plugins.

Public: the fixtures are documented for app and plugin authors.

Registered through the ``pytest11`` entry point, so any project that has ``ramparts``
installed gets them without a ``conftest.py``:

* ``ramparts_home``: a throwaway, empty ``$HOME`` (the XDG variables point under it);
  ``$APPDATA`` and the other app directories of every scope land under it.
* ``ramparts_bridge``: a factory, ``ramparts_bridge(app_dir)`` or
  ``ramparts_bridge(capabilities={...})``, returning a :class:`ramparts.testing.Bridge`
  that is closed when the test ends.

Nothing is imported from Ramparts until a fixture is used: every pytest run in an
environment that has Ramparts loads this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ramparts.testing import Bridge


@pytest.fixture
def ramparts_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home folder for this test; ``$APPDATA`` is ``<home>/.local/share/<id>``.

    Empty, as on a new account: no ``.local``, no ``.config``. The app creates its own
    directories on first use, as it must on a person's first run. The app subprocess of
    ``eval_in_app`` inherits these variables too.
    """
    from ramparts.testing import home_env

    home = tmp_path / "home"
    home.mkdir()
    for key, value in home_env(home).items():
        monkeypatch.setenv(key, value)
    return home


@pytest.fixture
def ramparts_bridge(ramparts_home: Path) -> Iterator[Callable[..., Bridge]]:
    """``ramparts_bridge(app_dir=None, *, capabilities=None, ...)``: see ``open_bridge``.

    Uses ``ramparts_home``, so scopes resolve under a throwaway home.
    """
    from ramparts.testing import open_bridge

    opened: list[Bridge] = []

    def factory(*args: Any, **kwargs: Any) -> Bridge:
        bridge = open_bridge(*args, **kwargs)
        opened.append(bridge)
        return bridge

    yield factory
    for bridge in opened:
        bridge.close()
