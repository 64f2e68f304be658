"""``updater.check`` and ``updater.install``: the page's side of :class:`.Updater`.

Progress goes to the calling page only, as ``updater:progress`` events. Every refusal
reaches the page as ``failed`` with ``data.reason`` naming it (``unknown_key``,
``expired``, ``hash_mismatch``, ...) and a message that says what and where.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypedDict

from ramparts import CallContext, CommandFailed, command
from ramparts.release.updates import UpdateError

from .client import Updater
from .config import UpdaterState

__all__ = ["EVENT_PROGRESS", "CheckResult", "InstallResult", "check", "install"]

#: ``{phase, done, total}``: ``download`` (bytes), then ``install:<step>`` (1 to 5).
EVENT_PROGRESS = "updater:progress"
#: An install may download hundreds of MB; the network timeout bounds each wait.
_INSTALL_SECONDS = 6 * 3600.0
#: A check connects and reads, each within the config's timeout (at most 600 s).
_CHECK_SECONDS = 2 * 600.0 + 5


class CheckResult(TypedDict):
    """What ``check`` resolves to. With ``available`` false, the fields describe the
    version running now (the feed offers that same one)."""

    available: bool
    current: str
    version: str
    notes: str
    size: int
    published: str
    expires: str


class InstallResult(TypedDict):
    """What ``install`` resolves to when it does not relaunch."""

    version: str
    relaunch: bool


@contextmanager
def _page_errors() -> Iterator[None]:
    try:
        yield
    except UpdateError as e:
        raise CommandFailed(str(e), data={"reason": e.code}) from None
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        raise CommandFailed(f"{where}{e.strerror or e}", data={"reason": "io"}) from None


@command(timeout=_CHECK_SECONDS)
def check(ctx: CallContext[UpdaterState]) -> CheckResult:
    """Ask the feed whether a newer version is signed and available."""
    with _page_errors():
        updater = Updater(ctx.state.endpoint, timeout=ctx.state.timeout)
        feed, url = updater.feed()
        offered = updater.compare(feed, url)
    return {
        "available": offered is not None,
        "current": updater.build.version,
        "version": feed.version,
        "notes": feed.notes,
        "size": feed.size,
        "published": feed.published,
        "expires": feed.expires,
    }


@command(timeout=_INSTALL_SECONDS)
def install(ctx: CallContext[UpdaterState], relaunch: bool = True) -> InstallResult:
    """Download, verify and install the newer version, then relaunch into it (the
    promise never settles then: the page is replaced). With relaunch false, it runs
    at the next start."""

    def progress(phase: str, done: int, total: int) -> None:
        ctx.emit(EVENT_PROGRESS, {"phase": phase, "done": done, "total": total})

    with _page_errors():
        updater = Updater(ctx.state.endpoint, timeout=ctx.state.timeout)
        feed, _ = updater.install(progress, cancelled=ctx.ended.is_set)
        if relaunch and not ctx.ended.is_set():
            updater.relaunch()
    return {"version": feed.version, "relaunch": False}
