"""Starting, watching, killing and reaping children: what ``execute`` and ``spawn`` share.

Every child is started with ``shell=False`` from an argument list, in a new session
(so it leads its own process group), with an explicit environment and working
directory. Signals go to the whole group, and only while the leader is not yet reaped:
an unreaped leader (running or a zombie) keeps its id, so the group id cannot have been
reused by an unrelated process. ``kill`` is ``SIGKILL``; ``terminate`` (a page's session
ended) is ``SIGTERM``, then ``SIGKILL`` after a grace. Whatever is still unreaped when the
app exits is killed then.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from ramparts import CommandFailed, CommandTimeout

__all__ = ["CHUNK", "Proc", "exit_status", "pump"]

CHUNK = 64 * 1024
#: Seconds between exit checks where the OS has no pidfd to wait on.
_POLL = 0.05
_HAS_WAITID = hasattr(os, "waitid") and hasattr(os, "WNOWAIT")
#: Seconds a terminated group has to exit after ``SIGTERM`` before ``SIGKILL``.
TERM_GRACE = 2.0

#: ``on_output(stream, chunk)``: stream 1 is stdout, 2 is stderr; ``b""`` means EOF.
OnOutput = Callable[[int, bytes], None]


class Proc:
    """One started child and the locks that keep kill, reap and stdin writes apart."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen
        self.pid = popen.pid
        #: Held by every stdin operation, so a close never races a write.
        self.stdin_lock = threading.Lock()
        self._lock = threading.Lock()
        self._reaped = False
        self.pidfd: int | None = None
        if hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):
                self.pidfd = os.pidfd_open(self.pid)
        with _UNREAPED_LOCK:
            _UNREAPED.add(self)

    @classmethod
    def start(
        cls, argv: Sequence[str], env: Mapping[str, str], cwd: str, *, pipe_stdin: bool
    ) -> Proc:
        """Start ``argv`` (``argv[0]`` an absolute path); stdin is ``/dev/null`` unless piped."""
        try:
            popen = subprocess.Popen(
                list(argv),
                shell=False,
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.PIPE if pipe_stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as e:
            raise CommandFailed(
                f"{os.path.basename(argv[0])} could not be started: {e.strerror}"
            ) from None
        return cls(popen)

    def kill(self) -> None:
        """SIGKILL the whole process group, unless the leader was already reaped."""
        self._signal(signal.SIGKILL)

    def terminate(self, grace: float = TERM_GRACE) -> None:
        """SIGTERM the whole group now and SIGKILL it after ``grace`` seconds. Never blocks.

        Whoever reaps the leader still does (a ``pump`` caller); when the leader exits,
        ``pump`` kills what is left of the group at once.
        """
        if self._signal(signal.SIGTERM):
            timer = threading.Timer(grace, self.kill)
            timer.daemon = True
            timer.start()

    def _signal(self, sig: int) -> bool:
        """Send ``sig`` to the group; False if the leader was already reaped."""
        with self._lock:
            if self._reaped:
                return False
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)
            return True

    def exited(self) -> bool:
        """Has the leader exited? Where possible it is left unreaped (see module docs)."""
        if self._reaped:
            return True
        if _HAS_WAITID:
            try:
                return (
                    os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
                )
            except ChildProcessError:
                return True
        with self._lock:
            # No waitid (macOS before Python 3.13): poll() reaps, so the group is killed
            # right after; the leader's id cannot be handed out again that fast.
            if self.popen.poll() is not None:
                self._reaped = True
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.pid, signal.SIGKILL)
            return self._reaped

    def reap(self) -> int:
        """Kill what is left of the group, collect the leader, close every pipe.

        :return: the exit status (negative: killed by that signal).
        """
        self.kill()
        with self._lock:
            if not self._reaped:
                self.popen.wait()
                self._reaped = True
            if self.pidfd is not None:
                os.close(self.pidfd)
                self.pidfd = None
        with _UNREAPED_LOCK:
            _UNREAPED.discard(self)
        with self.stdin_lock:
            for f in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
                if f is not None:
                    with contextlib.suppress(OSError):
                        f.close()
        code = self.popen.returncode
        assert code is not None
        return code

    def write_stdin(self, data: bytes, *, close: bool, timeout: float) -> None:
        """Write all of ``data`` to the child's stdin within ``timeout`` seconds."""
        with self.stdin_lock:
            f = self.popen.stdin
            if f is None or f.closed:
                raise CommandFailed("this child's stdin is closed")
            fd = f.fileno()
            os.set_blocking(fd, False)
            deadline = time.monotonic() + timeout
            view = memoryview(data)
            with selectors.DefaultSelector() as sel:
                sel.register(fd, selectors.EVENT_WRITE)
                while view:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise CommandTimeout(
                            f"the child did not read its input within {timeout:g} s"
                        )
                    if not sel.select(remaining):
                        continue
                    try:
                        view = view[os.write(fd, view[:CHUNK]) :]
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:
                        f.close()
                        raise CommandFailed("the child closed its stdin") from None
            if close:
                f.close()

    def close_stdin(self) -> None:
        with self.stdin_lock:
            if self.popen.stdin is not None:
                with contextlib.suppress(OSError):
                    self.popen.stdin.close()


_UNREAPED: set[Proc] = set()
_UNREAPED_LOCK = threading.Lock()


@atexit.register
def _kill_unreaped() -> None:
    """Last resort: nothing started for a page outlives the app (a terminated group's
    SIGKILL timer would not fire after exit)."""
    with _UNREAPED_LOCK:
        procs = list(_UNREAPED)
    for proc in procs:
        proc.kill()


def pump(
    proc: Proc,
    on_output: OnOutput,
    *,
    stdin_data: bytes | None = None,
    deadline: float | None = None,
) -> bool:
    """Feed ``stdin_data``, pass stdout and stderr to ``on_output`` until the leader has
    exited and both pipes are closed.

    When the leader exits, whatever it left running in its group is killed, so pipes
    held open by a background grandchild cannot keep the call waiting.

    :return: ``False`` if ``deadline`` (``time.monotonic()``) came first; the whole
        group has then been killed. Exceptions from ``on_output`` propagate.
    """
    pending = memoryview(stdin_data or b"")
    with selectors.DefaultSelector() as sel:
        _register(sel, proc, pending, feed=stdin_data is not None)
        open_pipes = 2
        exited = False
        while open_pipes or not exited:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                proc.kill()
                return False
            if proc.pidfd is None and not exited:
                wait = _POLL if wait is None else min(wait, _POLL)
            for key, _ in sel.select(wait):
                if key.data == -1:  # the pidfd: the leader exited
                    sel.unregister(key.fd)
                    exited = True
                    proc.kill()
                elif key.data == 0:  # stdin has room
                    pending = _feed(sel, proc, key.fd, pending)
                elif _read(sel, key.fd, key.data, on_output):
                    open_pipes -= 1
            if not exited and proc.pidfd is None and proc.exited():
                exited = True
                proc.kill()
    return True


def _register(sel: selectors.BaseSelector, proc: Proc, pending: memoryview, *, feed: bool) -> None:
    """Watch stdout (1), stderr (2), stdin while ``pending`` is left to feed (0), and the
    pidfd (-1); with nothing to feed, stdin is closed at once."""
    popen = proc.popen
    assert popen.stdout is not None and popen.stderr is not None
    for tag, f in ((1, popen.stdout), (2, popen.stderr)):
        os.set_blocking(f.fileno(), False)
        sel.register(f.fileno(), selectors.EVENT_READ, tag)
    if popen.stdin is not None and feed:
        if pending:
            os.set_blocking(popen.stdin.fileno(), False)
            sel.register(popen.stdin.fileno(), selectors.EVENT_WRITE, 0)
        else:
            proc.close_stdin()
    if proc.pidfd is not None:
        sel.register(proc.pidfd, selectors.EVENT_READ, -1)


def _feed(sel: selectors.BaseSelector, proc: Proc, fd: int, pending: memoryview) -> memoryview:
    """Write what stdin has room for; close it once all is written. Returns what is left."""
    try:
        pending = pending[os.write(fd, pending[:CHUNK]) :]
    except BlockingIOError:
        return pending
    except BrokenPipeError:  # it stopped reading: the rest is dropped
        pending = pending[:0]
    if not pending:
        sel.unregister(fd)
        proc.close_stdin()
    return pending


def _read(sel: selectors.BaseSelector, fd: int, stream: int, on_output: OnOutput) -> bool:
    """Pass what ``stream`` has to ``on_output``; ``True`` when it reached EOF."""
    try:
        chunk = os.read(fd, CHUNK)
    except BlockingIOError:
        return False
    if not chunk:
        sel.unregister(fd)
    on_output(stream, chunk)
    return not chunk


def exit_status(code: int) -> tuple[int | None, int | None]:
    """``(exit code, signal)`` from a returncode (negative means killed by a signal)."""
    return (code, None) if code >= 0 else (None, -code)
