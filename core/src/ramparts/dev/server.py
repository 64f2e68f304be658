"""A front-end dev server behind the app's own origin, for ``ramparts dev`` only.

Internal: configured by ``[tool.ramparts.dev]`` (docs/config.md).

The dev server's pages are not loaded from its ``http://127.0.0.1:<port>`` origin: the
app's scheme handler fetches each file from it (``WindowHost.serve``) and serves it as
``app://<identifier>``,
with the app's CSP as a header and a ``<meta>``. So the page has the origin, the bridge,
the origin check and the CSP it has in a build; the dev server only ever talks to
Python. The dev CSP adds two things that hot reload needs and nothing else:

* ``connect-src ws://<host>:<port>``: the dev server's hot-reload socket;
* a nonce for ``style-src``, new for every page: Vite turns each CSS module into a
  ``<style>`` element at run time, and puts on it the nonce it reads from
  ``<meta property="csp-nonce">`` (which the host adds to the page).

What this does not protect against: the dev server itself. Anything on this machine
that can reach its port can read the app's sources from it, and whatever it serves runs
in the page with the bridge (its own dependencies included). It runs only in dev.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import attrs

from ramparts.config import AppConfig, command_words
from ramparts.errors import RampartsError

__all__ = ["DevServerError", "dev_config", "running"]

#: Seconds a dev server may take to answer its first request after it was started.
START_TIMEOUT = 60.0


class DevServerError(RampartsError):
    """The dev server did not start, stopped early, or its port was already taken."""


def dev_config(config: AppConfig) -> AppConfig:
    """``config`` with the dev CSP: ``connect-src`` gains the dev server's socket.

    Everything downstream (the CSP header, the engine's egress switches) reads it there.
    """
    assert config.dev.url is not None
    socket = "ws://" + urlsplit(config.dev.url).netloc
    csp: dict[str, tuple[str, ...]] = dict(config.security.csp)
    csp["connect-src"] = (*csp.get("connect-src", ("'self'",)), socket)
    return attrs.evolve(config, security=attrs.evolve(config.security, csp=csp))


def _answers(url: str) -> bool:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=2)
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


@contextlib.contextmanager
def running(config: AppConfig, say: Callable[[str], None], *, start: bool = True) -> Iterator[None]:
    """Start the ``before_dev_command`` (if any), wait until the dev URL answers, and
    stop the command's whole process group on the way out.

    :param start: ``False``: only wait for the URL; someone else runs the command
        (``ramparts dev --reload`` keeps one dev server across the app's restarts).

    :raises DevServerError: the port answers before the command started (another
        server holds it), the command exits first, or nothing answers in time.
    """
    dev = config.dev
    assert dev.url is not None
    command = dev.before_dev_command if start else None
    if command is None:
        _wait(dev.url, None, "", say)
        yield
        return
    if _answers(dev.url):
        raise DevServerError(
            f"{dev.url} already answers before `{command}` started: another server holds "
            "that port; stop it, or change tool.ramparts.dev.url and the command"
        )
    say(f"ramparts dev: starting `{command}` in {config.app_dir}")
    try:
        # Its own process group: npm and the server it starts all stop together.
        proc = subprocess.Popen(command_words(command), cwd=config.app_dir, start_new_session=True)
    except OSError as e:
        raise DevServerError(f"`{command}` did not start: {e.strerror or e}") from None
    try:
        _wait(dev.url, proc, command, say)
        yield
    finally:
        _stop(proc)


def _wait(
    url: str, proc: subprocess.Popen[bytes] | None, command: str, say: Callable[[str], None]
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    told = False
    while not _answers(url):
        if proc is not None and proc.poll() is not None:
            raise DevServerError(f"`{command}` exited with {proc.returncode} before {url} answered")
        if time.monotonic() > deadline:
            what = f"`{command}` started, but " if command else ""
            raise DevServerError(f"{what}nothing answered at {url} in {START_TIMEOUT:.0f} s")
        if not told:
            say(f"ramparts dev: waiting for {url}")
            told = True
        time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole group, SIGKILL after 5 s: no dev server outlives the app."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 5.0
    while _group_alive(proc) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _group_alive(proc: subprocess.Popen[bytes]) -> bool:
    proc.poll()  # reap the command: a zombie still counts as a member of its group
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return False
    return True
