"""The two engines for webview tests: ``engine`` runs a test on Qt WebEngine and on
WebKitGTK (``RAMPARTS_BACKEND``); GTK 3 has no offscreen mode, so its runs get an Xvfb
display, started once per session.

A test module opts in with ``pytestmark = pytest.mark.usefixtures("engine")``; a test
that cannot hold on GTK says why with ``pytest.mark.qt_only("why")``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

__all__ = ["ENGINES", "engine", "gtk_display"]

ENGINES = ("qt", "gtk")


@pytest.fixture(scope="session")
def gtk_display() -> Iterator[str]:
    """An X display (``:N``) of an Xvfb that listens on no TCP port."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.fail("Xvfb is missing: scripts/setup.sh installs it (the GTK engine needs it)")
    read, write = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write), "-nolisten", "tcp", "-screen", "0", "1280x1024x24"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()  # written once the server accepts clients
    if not number:
        proc.kill()
        pytest.fail("Xvfb did not start")
    try:
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The engine this run of the test uses; the app processes it starts inherit it."""
    name: str = request.param
    marker = request.node.get_closest_marker("qt_only")
    if name == "gtk" and marker is not None:
        pytest.skip(f"not on GTK: {marker.args[0]}")
    monkeypatch.setenv("RAMPARTS_BACKEND", name)
    if name == "gtk":
        monkeypatch.setenv("DISPLAY", request.getfixturevalue("gtk_display"))
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return name
