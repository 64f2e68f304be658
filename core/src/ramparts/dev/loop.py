"""``ramparts dev --reload``: a change to the app's Python restarts it, a change under
its ``ui`` folder reloads its pages.

Internal. Two processes, because one process runs one GUI loop (a second
``webview.start()`` crashes) and Python cannot forget the app's modules:

* the supervisor (:func:`supervise`, the ``ramparts dev --reload`` process itself) runs
  the app as a child process, ``ramparts dev --watch-ui``, watches the app's Python
  (every ``*.py`` under the app folder outside ``ui``, and ``pyproject.toml``) and
  starts a new child after a change. A child that fails (a syntax error, a bad config)
  has said why on stderr; the supervisor waits for the next change. SIGINT and SIGTERM
  stop the child, then the supervisor.
* the child watches its ``ui`` folder (:func:`watching_ui`) and reloads the page of
  every open window after a change, through the backend, as F5 does: a reload is a new
  page, which the bridge gives a new session.

Both use watchfiles, which waits for a burst of changes to settle and reports it as one.
It is imported only here, and this module only by ``ramparts dev``: a built app never
imports either.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ramparts.app import App

__all__ = ["STOP_GRACE", "describe", "supervise", "watching_ui"]

#: Seconds a child may take to close its windows and exit once asked, before it is killed.
STOP_GRACE = 10.0
#: Seconds between two looks at whether the child is still running.
_POLL_MS = 300
#: Folders of the app folder that hold no source: ``ramparts build``'s work and output.
_BUILD_DIRS = ("build", "dist")


def _say(line: str) -> None:
    # One write, so that a line from another thread never lands inside this one.
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def describe(paths: Iterable[str], root: Path) -> str:
    """The changed files, relative to ``root`` when under it: ``ui/app.js``,
    ``a.py, b.py``, or ``a.py, b.py, c.py and 2 more``.

    Files that are gone are named only when no file is left: an editor's temporary
    files come and go in the same burst as the file it saves.
    """
    unique = sorted(set(paths))
    names = []
    for p in [p for p in unique if os.path.exists(p)] or unique:
        try:
            names.append(Path(p).relative_to(root).as_posix())
        except ValueError:
            names.append(p)
    shown = ", ".join(names[:3])
    return shown if len(names) <= 3 else f"{shown} and {len(names) - 3} more"


# -- the child: the ui folder ------------------------------------------------------------


@contextlib.contextmanager
def watching_ui(app: App, say: Callable[[str], None] = _say) -> Iterator[None]:
    """While inside, a change under ``app``'s ``ui`` folder reloads every open window's
    page, with a line on ``say``: ``ramparts dev: ui/app.js changed: reloading``."""
    import watchfiles

    ui, root = app.config.ui, app.config.app_dir
    stop = threading.Event()

    def watch() -> None:
        try:
            for changes in watchfiles.watch(ui, stop_event=stop, raise_interrupt=False):
                say(f"ramparts dev: {describe((p for _, p in changes), root)} changed: reloading")
                for label in list(app.hosts):
                    app.reload_window(label)
        except Exception as e:  # the folder went away, say: the app runs on unwatched
            say(f"ramparts dev: no longer watching {ui}: {e}")

    thread = threading.Thread(target=watch, name="ramparts-watch-ui", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=2)


# -- the supervisor: the app's Python ----------------------------------------------------


def _ui_folder(app_dir: Path) -> Path:
    """The ``ui`` folder the config names, read without validating the rest (the config
    may be broken while someone edits it)."""
    try:
        with (app_dir / "pyproject.toml").open("rb") as f:
            ui = tomllib.load(f).get("tool", {}).get("ramparts", {}).get("ui", "ui")
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        ui = "ui"
    return (app_dir / (ui if isinstance(ui, str) else "ui")).resolve()


class _PythonFilter:
    """The changes that restart the app: ``*.py`` under the app folder outside ``ui`` and
    ``ramparts build``'s folders, and the app's ``pyproject.toml``."""

    def __init__(self, app_dir: Path) -> None:
        import watchfiles

        self.app_dir = app_dir
        self.pyproject = str(app_dir / "pyproject.toml")
        self._default = watchfiles.DefaultFilter()  # caches, .venv, .git, editor files
        self.refresh()

    def refresh(self) -> None:
        """Read where ``ui`` is again (``pyproject.toml`` may have changed it)."""
        skip = [_ui_folder(self.app_dir), *(self.app_dir / d for d in _BUILD_DIRS)]
        self._skip = tuple(str(p) for p in skip)

    def __call__(self, change: Any, path: str) -> bool:
        if path == self.pyproject:
            return True
        if not path.endswith(".py") or not self._default(change, path):
            return False
        return not any(path == s or path.startswith(s + os.sep) for s in self._skip)


def _start(argv: Sequence[str]) -> subprocess.Popen[bytes]:
    # A process group of its own: Ctrl+C in a terminal reaches the supervisor only, which
    # stops the child, and whatever the child leaves (the engine's helper processes) can
    # be ended with it.
    if os.name == "posix":
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)
    flags = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, creationflags=flags)


def _stop(child: subprocess.Popen[bytes]) -> None:
    """Ask the child to close its windows and exit (SIGINT, as Ctrl+C would), kill it
    after :data:`STOP_GRACE` seconds, then kill whatever is left of its process group."""
    if child.poll() is None:
        if os.name == "posix":
            child.send_signal(signal.SIGINT)
        else:
            child.terminate()
        try:
            child.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)


def supervise(
    app_dir: Path, child_args: Sequence[str] = (), *, say: Callable[[str], None] = _say
) -> int:
    """Run the app in ``app_dir`` as ``ramparts dev APP_DIR --watch-ui *child_args`` and
    start it again after each change to its Python, until SIGINT or SIGTERM (exit code 0)
    or until its windows close (the child's exit code 0).

    A child that exits with another code is reported and started again at the next
    change. Call it from the main thread (it handles SIGINT and SIGTERM meanwhile).
    """
    import watchfiles

    app_dir = app_dir.resolve()
    if not app_dir.is_dir():
        say(f"error: {app_dir}: no such folder")
        return 1
    argv = [sys.executable, "-m", "ramparts", "dev", str(app_dir), "--watch-ui", *child_args]
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()  # watchfiles runs this handler while it waits, then sees the event

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    say(
        f"ramparts dev: watching {app_dir}: a Python change restarts the app, "
        "a ui change reloads its pages; stop with Ctrl+C"
    )
    python = _PythonFilter(app_dir)
    child = _start(argv)
    exited = False  # the child's exit has been reported
    try:
        for changes in watchfiles.watch(
            app_dir,
            watch_filter=python,
            stop_event=stop,
            rust_timeout=_POLL_MS,
            yield_on_timeout=True,
            raise_interrupt=False,
        ):
            if stop.is_set():
                break
            if changes:
                changed = describe((p for _, p in changes), app_dir)
                say(f"ramparts dev: {changed} changed: restarting")
                _stop(child)
                python.refresh()
                child, exited = _start(argv), False
                continue
            code = child.poll()
            if code is None or exited:
                continue
            exited = True
            if code == 0:  # its windows were closed: so is the dev loop
                return 0
            say(f"ramparts dev: the app exited with code {code}; waiting for a change")
    finally:
        _stop(child)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
