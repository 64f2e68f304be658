"""``[tool.ramparts.capabilities.log]``: the minimum level, rotation and the page's rate."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ramparts.toolkit import ConfigContext, RateLimit, base_dirs

from .file import AppLogFile, attach
from .flood import Flood

__all__ = ["FILE_NAME", "LEVELS", "LogState", "configure"]

#: The app's log file, in its log folder (``$APPLOG``).
FILE_NAME = "app.log"
#: The page's level names and the Python levels they write.
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
#: Bytes a page line can take beyond its characters: the time, level and source.
_LINE_OVERHEAD = 256


@attrs.frozen
class LogState:
    """What the commands need: the file, the minimum level, the line limit, the rate.

    :ivar level: the minimum Python level written (page and Python lines alike).
    :ivar max_line_chars: a page line's characters after escaping; the rest is cut.
    :ivar flood: what ``limit`` dropped, reported once the flood ends.
    """

    file: AppLogFile
    level: int
    max_line_chars: int
    limit: RateLimit
    flood: Flood


def configure(table: Mapping[str, Any], ctx: ConfigContext) -> LogState:
    keys = ("level", "max_bytes", "keep", "lines_per_second", "burst", "max_line_chars")
    ctx.check_keys(table, keys)
    name = table.get("level", "info")
    if name not in LEVELS:
        raise ctx.error("level", name, f"one of {', '.join(LEVELS)}")
    max_line = ctx.whole_number(table, "max_line_chars", 2000, maximum=100_000, unit="characters")
    # A line is at most 4 bytes a character (UTF-8): one line always fits in a file.
    least = 4 * max_line + _LINE_OVERHEAD
    max_bytes = ctx.whole_number(table, "max_bytes", 1 << 20, minimum=least, unit="bytes")
    keep = ctx.whole_number(table, "keep", 3, maximum=100, unit="files")
    rate = ctx.whole_number(table, "lines_per_second", 20, maximum=100_000, unit="lines")
    burst = ctx.whole_number(table, "burst", 200, maximum=1_000_000, unit="lines")
    path = Path(base_dirs(ctx.identifier, ctx.app_dir)["APPLOG"]) / FILE_NAME
    level = LEVELS[name]
    log_file = attach(path, level=level, max_bytes=max_bytes, keep=keep)
    limit = RateLimit(rate, burst)
    return LogState(log_file, level, max_line, limit, Flood(limit, log_file, level))
