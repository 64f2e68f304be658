"""Running an app from its folder: what ``ramparts dev`` and a built app's launcher share.

Internal.

Kept apart from the CLI so that a built app starts without typer: the launcher imports
this module, and this module imports nothing that the app does not need anyway.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ramparts.errors import RampartsError

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_TIMEOUT", "run_app"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_TIMEOUT = 2


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_app(
    app_dir: Path,
    *,
    headless: bool = False,
    eval_file: Path | None = None,
    timeout: float = 30.0,
    trace: bool = False,
    page_errors: bool = False,
    devtools: bool = False,
) -> int:
    """Load the app in ``app_dir``, run it until its windows close, return an exit code.

    With ``eval_file``, its JS runs as a page script once the page loads, the JSON value
    it resolves to is printed on stdout, and the app exits. With ``page_errors``
    (``ramparts dev``; a built app only if its launcher asks), the page's uncaught
    exceptions, console errors and warnings are printed on stderr. With ``devtools``
    (``ramparts dev --devtools`` only), each window gets the engine's inspector.

    :return: ``EXIT_OK``; ``EXIT_ERROR`` for a bad app, a failed start or a failed
        page script; ``EXIT_TIMEOUT`` when the page script did not settle in time.
        Every failure is one ``error: ...`` line on stderr, never a traceback.
    """
    from ramparts.app import App

    try:
        source = eval_file.read_text(encoding="utf-8") if eval_file else None
    except OSError as e:
        _say(f"error: cannot read --eval file: {e}")
        return EXIT_ERROR
    try:
        the_app = App.load(app_dir)
    except RampartsError as e:
        _say(f"error: {e}")
        return EXIT_ERROR
    cfg = the_app.config
    _say(f"ramparts: {cfg.name} ({cfg.identifier}) from {cfg.app_dir}")
    _say(f"ramparts: commands: {', '.join(sorted(the_app.registry.routes)) or '(none)'}")
    try:
        result = the_app.run(
            headless=headless,
            eval_js=source,
            timeout=timeout,
            trace=_say if trace else None,
            page_errors=_say if page_errors else None,
            devtools=_say if devtools else None,
        )
    except RampartsError as e:
        _say(f"error: {e}")
        return EXIT_ERROR
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
