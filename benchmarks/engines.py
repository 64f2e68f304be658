"""The engines the benchmarks run on besides headless Qt: WebKitGTK (under an X display)
and the optional PyTauri peer.

* :func:`x_display`: the ``DISPLAY`` to use, starting a private Xvfb when there is none
  (GTK 3 has no offscreen mode); the server is stopped when the benchmark ends.
* :func:`gtk_env`: the environment of a Ramparts (``RAMPARTS_BACKEND=gtk``) or pywebview
  (``gui="gtk"``) process on that display.
* :func:`pytauri_python`: the Python of the venv ``benchmarks/pytauri/setup.sh`` made, or
  the reason the PyTauri rows cannot run (printed by every section that skips them).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTAURI_APP = HERE / "pytauri" / "app.py"
PYTAURI_SETUP = HERE / "pytauri" / "setup.sh"


@contextlib.contextmanager
def x_display() -> Iterator[str]:
    """``$DISPLAY`` if set, else a private Xvfb's display for as long as the block runs."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise RuntimeError("no DISPLAY and no Xvfb: scripts/setup.sh installs Xvfb")
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
    try:
        if not number:
            raise RuntimeError("Xvfb did not start")
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(10)


def gtk_env(display: str) -> dict[str, str]:
    """What a GTK row's process gets on top of the inherited environment."""
    return {"RAMPARTS_BACKEND": "gtk", "DISPLAY": display, "GDK_BACKEND": "x11"}


def pytauri_venv() -> Path:
    default = Path.home() / ".cache" / "ramparts-bench" / "pytauri"
    return Path(os.environ.get("RAMPARTS_PYTAURI_VENV", default))


def pytauri_python() -> tuple[Path | None, str]:
    """(the venv's Python, "") when PyTauri is set up, else (None, why not)."""
    python = pytauri_venv() / "bin" / "python"
    if not python.exists():
        return None, f"not set up: run `bash {PYTAURI_SETUP.relative_to(HERE.parent)}`"
    probe = subprocess.run(
        [str(python), "-c", "import pytauri_wheel"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["import failed"])[-1]
        return None, f"pytauri-wheel does not import in {python}: {last}"
    return python, ""
