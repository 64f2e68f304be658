"""The app's log file: one rotating handler per file, shared by the page and Python.

Every line is one record: the message's newlines and other control characters are
escaped, so text from a page can never start a line of its own (no forged records).
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import re
import sys
import threading
import time
from pathlib import Path

from ramparts.toolkit import make_app_dir

__all__ = ["LOGGER", "AppLogFile", "attach", "clip", "escape"]

#: The Python logger whose records (and its children's) go to the app's log file.
LOGGER = "app"

# Backslash (so an escape is never ambiguous), C0 and C1 controls and DEL, Unicode line
# and paragraph separators, and bidirectional controls (text that reads other than it is).
_SPECIAL = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """``text`` on one line: backslashes, control characters, line separators and
    bidirectional controls written as ``\\n``, ``\\x1b``, ``\\u2028``..."""
    return _SPECIAL.sub(lambda m: _escaped(m.group()), text)


def clip(text: str, limit: int) -> str:
    """``text``, cut so that it takes at most ``limit`` characters once escaped (an
    escape is never split); a cut text ends with how many characters were left out."""
    if len(escape(text)) <= limit:
        return text
    used = 0
    for i, ch in enumerate(text):
        used += len(_escaped(ch)) if _SPECIAL.match(ch) else 1
        if used > limit:
            return text[:i] + f" [cut: {len(text) - i} more characters]"
    return text


class _Format(logging.Formatter):
    """``2026-01-31T12:00:00.250Z INFO app.page.main: text``, in UTC, one line a record;
    a traceback follows on lines indented by four spaces, escaped the same way."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self.formatTime(record)} {record.levelname} {record.name}: "
        line += escape(record.getMessage())
        extra = []
        if record.exc_info:
            extra.append(self.formatException(record.exc_info))
        if record.stack_info:
            extra.append(self.formatStack(record.stack_info))
        for block in extra:
            line += "".join(f"\n    {escape(part)}" for part in block.splitlines())
        return line


class AppLogFile(logging.handlers.RotatingFileHandler):
    """The app's log file (``$APPLOG/app.log``), rotated at ``max_bytes`` with ``keep``
    older files (``app.log.1`` is the newest of them). The folder is made, private to
    the user, when the first line is written; nothing is created before."""

    def __init__(self, path: Path, *, level: int, max_bytes: int, keep: int) -> None:
        super().__init__(
            path,
            maxBytes=max_bytes,
            backupCount=keep,
            encoding="utf-8",
            errors="backslashreplace",  # a lone surrogate must not lose the line
            delay=True,
        )
        self.path = path
        self.setLevel(level)
        self.setFormatter(_Format())
        self._failed = threading.local()  # per thread: which call's write failed

    def write(self, record: logging.LogRecord) -> Exception | None:
        """Write ``record`` as :meth:`handle` does; the error that lost it, if any (a
        full disk, an unwritable folder), rather than only a report on stderr."""
        self._failed.error = None
        self.handle(record)
        error: Exception | None = self._failed.error
        return error

    def handleError(self, record: logging.LogRecord) -> None:
        self._failed.error = sys.exc_info()[1]
        # Drop what the failed write left buffered, so that it neither fails the next
        # line nor comes out later; the next line opens the file again.
        stream, self.stream = self.stream, None
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()  # closes the file even when the flush in it fails
        super().handleError(record)

    def emit(self, record: logging.LogRecord) -> None:
        if self.stream is None:
            try:
                make_app_dir(self.path.parent)
            except OSError:
                self.handleError(record)
                return
        super().emit(record)


_attached: AppLogFile | None = None
_attach_lock = threading.Lock()


def attach(path: Path, *, level: int, max_bytes: int, keep: int) -> AppLogFile:
    """The app's log file, made the handler of the :data:`LOGGER` logger (replacing the
    one an app loaded before in this process had), which writes from ``level`` up."""
    global _attached
    handler = AppLogFile(path, level=level, max_bytes=max_bytes, keep=keep)
    logger = logging.getLogger(LOGGER)
    with _attach_lock:
        old, _attached = _attached, handler
        if old is not None:
            logger.removeHandler(old)
            old.close()
        logger.addHandler(handler)
        logger.setLevel(level)
    return handler
