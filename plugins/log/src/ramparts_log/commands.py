"""The log commands: one per level; each writes one line of the page's to the app's log."""

from __future__ import annotations

import logging

from ramparts import CallContext, CommandFailed, command

from .config import LogState
from .file import LOGGER, clip

__all__ = ["COMMANDS"]


def _write(ctx: CallContext[LogState], level: int, message: str) -> bool:
    state = ctx.state
    if level < state.level:
        return False
    if not state.limit.take():
        state.flood.dropped(ctx.window)
        return False
    name = f"{LOGGER}.page.{ctx.window}"
    text = clip(message, state.max_line_chars)
    record = logging.getLogger(name).makeRecord(name, level, "", 0, text, (), None)
    error = state.file.write(record)
    if error is not None:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "error"
        raise CommandFailed(f"the app's log file could not be written ({reason})")
    return True


@command
def debug(ctx: CallContext[LogState], message: str) -> bool:
    """Write ``message`` at level debug; ``false`` if below the app's level or dropped."""
    return _write(ctx, logging.DEBUG, message)


@command
def info(ctx: CallContext[LogState], message: str) -> bool:
    """Write ``message`` at level info; ``false`` if below the app's level or dropped."""
    return _write(ctx, logging.INFO, message)


@command
def warn(ctx: CallContext[LogState], message: str) -> bool:
    """Write ``message`` at level warn; ``false`` if below the app's level or dropped."""
    return _write(ctx, logging.WARNING, message)


@command
def error(ctx: CallContext[LogState], message: str) -> bool:
    """Write ``message`` at level error; ``false`` if below the app's level or dropped."""
    return _write(ctx, logging.ERROR, message)


COMMANDS = [debug, info, warn, error]
