"""Both engines for the catalogue: a module-scoped ``engine`` (Qt WebEngine, WebKitGTK).

The catalogue's modules launch their apps once per module (module-scoped fixtures), so
the engine is chosen per module, not per test as ``tests/gtk_display.py`` does: pytest
then runs a module's tests for Qt, tears its fixtures down, and runs them for GTK. A
module opts in by importing ``module_engine`` and ``qt_only_skip`` (fixtures named
``engine`` and ``qt_only_skip``: in its namespace, they override the per-test ``engine``
of ``tests/conftest.py``) and with ``pytestmark = pytest.mark.usefixtures("qt_only_skip")``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gtk_display import ENGINES

__all__ = ["ENGINES", "module_engine", "qt_only_skip"]


@pytest.fixture(scope="module", params=ENGINES, name="engine")
def module_engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """The engine of this pass over the module; the apps it starts inherit it."""
    name: str = request.param
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAMPARTS_BACKEND", name)
        if name == "gtk":
            mp.setenv("DISPLAY", request.getfixturevalue("gtk_display"))
            mp.delenv("WAYLAND_DISPLAY", raising=False)
        yield name


@pytest.fixture
def qt_only_skip(request: pytest.FixtureRequest, engine: str) -> None:
    """A test marked ``qt_only("why")`` is skipped on GTK with its reason."""
    marker = request.node.get_closest_marker("qt_only")
    if engine == "gtk" and marker is not None:
        pytest.skip(f"not on GTK: {marker.args[0]}")
