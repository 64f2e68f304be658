"""The two engines for webview tests: ``engine`` runs a test on Qt WebEngine and on
WebKitGTK (``RAMPARTS_BACKEND``); GTK 3 has no offscreen mode, so its runs get an Xvfb
display, started once per session. ``window_manager`` gives a GTK run a second Xvfb
with a window manager (openbox) on it, for what only a window manager carries out
(maximize, minimize, fullscreen, keep above); the plain display has none, so the other
tests see window positions and sizes exactly as the app asked.

A test module opts in with ``pytestmark = pytest.mark.usefixtures("engine")``; a test
that cannot hold on GTK says why with ``pytest.mark.qt_only("why")``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["ENGINES", "engine", "gtk_display", "window_manager", "wm_display"]

ENGINES = ("qt", "gtk")


def _xvfb() -> tuple[subprocess.Popen[bytes], str]:
    """A started Xvfb that listens on no TCP port, and its display (``:N``)."""
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
    return proc, f":{number}"


def _stop(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def gtk_display() -> Iterator[str]:
    """An X display (``:N``) of an Xvfb that listens on no TCP port."""
    proc, display = _xvfb()
    try:
        yield display
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def wm_display(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An X display with openbox managing its windows, once openbox is ready."""
    openbox = shutil.which("openbox")
    if openbox is None:
        pytest.fail("openbox is missing: scripts/setup.sh installs it (window manager tests)")
    xvfb, display = _xvfb()
    ready = tmp_path_factory.mktemp("openbox") / "ready"
    wm = subprocess.Popen(
        # openbox runs --startup once it manages the screen (split into argv, no shell)
        [openbox, "--sm-disable", "--startup", f"touch {ready}"],
        env={**os.environ, "DISPLAY": display},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(ready, wm)
        yield display
    finally:
        _stop(wm, xvfb)


def _wait_for(ready: Path, wm: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not ready.exists():
        if wm.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"openbox did not start (exit code {wm.poll()})")
        time.sleep(0.05)


@pytest.fixture
def window_manager(
    engine: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run this test's GTK apps on the display with a window manager (Qt's offscreen
    platform records window states itself)."""
    if engine == "gtk":
        monkeypatch.setenv("DISPLAY", request.getfixturevalue("wm_display"))


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
