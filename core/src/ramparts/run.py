"""Running an app from its folder: what ``ramparts dev`` and a built app's launcher share.

Internal.

Kept apart from the CLI so that a built app starts without typer: the launcher imports
this module, and this module imports nothing that the app does not need anyway.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ramparts.errors import RampartsError

if TYPE_CHECKING:
    from ramparts.app import App
    from ramparts.backends import EvalResult

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_TIMEOUT", "run_app"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_TIMEOUT = 2


def _say(line: str) -> None:
    # One write, so that a line from another thread never lands inside this one.
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def run_app(
    app_dir: Path,
    *,
    headless: bool = False,
    eval_file: Path | None = None,
    timeout: float = 30.0,
    trace: bool = False,
    page_errors: bool = False,
    devtools: bool = False,
    dev_server: bool = False,
    dev: bool = False,
    watch_ui: bool = False,
    args: Sequence[str] = (),
) -> int:
    """Load the app in ``app_dir``, run it until its windows close, return an exit code.

    With ``eval_file``, its JS runs as a page script once the page loads, the JSON value
    it resolves to is printed on stdout, and the app exits. With ``page_errors``
    (``ramparts dev``; a built app only if its launcher asks), the page's uncaught
    exceptions, console errors and warnings are printed on stderr. With ``devtools``
    (``ramparts dev --devtools`` only), each window gets the engine's inspector. With
    ``dev_server`` (``ramparts dev``), pages come from ``[tool.ramparts.dev] url`` when
    the config has one, and its ``before_dev_command`` runs as long as the app does.
    With ``dev`` (``ramparts dev``), F5 and Ctrl+R reload the page; with it or
    ``page_errors``, ``ramparts: window '<label>' loaded <url>`` is printed as each page
    loads. With ``watch_ui`` (``dev --reload``'s child), a change under ``ui`` reloads the
    pages, and the ``before_dev_command`` is left to the supervisor, which keeps it
    running across restarts. ``args``, the app's own arguments, are handed to a running
    instance instead when ``single_instance`` is on and one runs (then ``EXIT_OK``).

    :return: ``EXIT_OK``; ``EXIT_ERROR`` for a bad app, a failed start or a failed
        page script; ``EXIT_TIMEOUT`` when the page script did not settle in time.
        Every failure is one ``error: ...`` line on stderr, never a traceback.
    """
    try:
        source = eval_file.read_text(encoding="utf-8") if eval_file else None
    except OSError as e:
        _say(f"error: cannot read --eval file: {e}")
        return EXIT_ERROR
    the_app = _load(app_dir, dev_server=dev_server)
    if the_app is None:
        return EXIT_ERROR
    try:
        with _alongside(the_app, watch_ui, args) as handed_over:
            if handed_over:
                return EXIT_OK
            result = the_app.run(
                headless=headless,
                eval_js=source,
                timeout=timeout,
                trace=_say if trace else None,
                page_errors=_say if page_errors else None,
                devtools=_say if devtools else None,
                loaded=_say if dev or page_errors else None,
                reload_keys=dev,
            )
    except RampartsError as e:
        _say(f"error: {e}")
        return EXIT_ERROR
    return _exit_code(result)


def _load(app_dir: Path, *, dev_server: bool) -> App | None:
    """The app, announced on stderr; ``None`` once its error line is printed."""
    from ramparts.app import App

    try:
        the_app = App.load(app_dir, dev=dev_server)
    except RampartsError as e:
        _say(f"error: {e}")
        return None
    except SyntaxError as e:  # in the app's commands module
        _say(f"error: {e.filename}:{e.lineno}: {e.msg}")
        return None
    cfg = the_app.config
    _say(f"ramparts: {cfg.name} ({cfg.identifier}) from {cfg.app_dir}")
    _say(f"ramparts: commands: {', '.join(sorted(the_app.registry.routes)) or '(none)'}")
    return the_app


@contextlib.contextmanager
def _one_instance(the_app: App, args: Sequence[str]) -> Iterator[bool]:
    """``single_instance``: ``True`` once the running instance took ``args`` (this one
    then exits); ``False`` while this one is the running instance, or the app lets
    several run."""
    cfg = the_app.config
    if cfg.single_instance is None:
        yield False
        return
    from ramparts.desktop.single_instance import SecondInstance, claim

    try:
        cwd = os.getcwd()
    except OSError:  # the folder was removed under us: nothing to tell
        cwd = ""
    primary = claim(cfg.identifier, SecondInstance(args=tuple(args), cwd=cwd))
    if primary is None:
        _say(f"ramparts: {cfg.name} is already running: handed it the arguments; exiting")
        yield True
        return
    with primary:
        _say(f"ramparts: single instance: listening on {primary.path}")
        primary.serve(the_app.second_instance)
        yield False


@contextlib.contextmanager
def _alongside(the_app: App, watch_ui: bool, args: Sequence[str]) -> Iterator[bool]:
    """What runs as long as the app does: its single instance socket, its dev server,
    ``dev --reload``'s ui watch. ``True``: another instance took ``args``; none runs."""
    from ramparts.dev.server import running

    with _one_instance(the_app, args) as handed_over:
        if handed_over:
            yield True
            return
        with (
            running(the_app.config, _say, start=not watch_ui)
            if the_app.dev_url
            else contextlib.nullcontext(),
            _watching_ui(the_app) if watch_ui else contextlib.nullcontext(),
        ):
            yield False


def _watching_ui(the_app: App) -> contextlib.AbstractContextManager[object]:
    """``ramparts dev --reload``'s page reloads, unless a dev server reloads its pages."""
    if the_app.dev_url:
        return contextlib.nullcontext()
    from ramparts.dev.loop import watching_ui  # watchfiles: never in a built app

    return watching_ui(the_app, _say)


def _exit_code(result: EvalResult | None) -> int:
    """What the run comes to: an ``--eval`` result is printed on stdout."""
    if result is None:
        return EXIT_OK
    if result.timed_out:
        _say(f"error: --eval timed out: {result.error}")
        return EXIT_TIMEOUT
    if not result.ok:
        _say(f"error: --eval failed: {result.error}")
        return EXIT_ERROR
    print(result.value, flush=True)
    return EXIT_OK
