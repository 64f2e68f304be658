"""The ``shell`` capability: run programs the app declared, with arguments it allows.

The page never names an executable: it names a program declared in the config, whose
absolute path was fixed when the app loaded. Arguments are checked position by position
(fixed strings or whole-string validators) and passed as an argument list, never
through a shell. Children get a cleared environment, a working directory from a path
scope, ``/dev/null`` as stdin unless given, a time limit and an output cap; they are
killed with their whole process group, always reaped, and never outlive the page's
session (each is held in ``session.resources``, so none starts after the session ended
and none is missed by its end). ``open`` hands an allowed URL (or non-executable file)
to the desktop.

Docs: ``docs/capabilities/shell.md``.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import math
import os
import re
import secrets
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal, TypedDict
from urllib.parse import unquote, urlsplit

import attrs

import ramparts
from ramparts import CallContext, Capability, InvalidArgs, NotAllowed, OutOfScope, command
from ramparts.bridge.session import Held, SessionEnded, WindowSession
from ramparts.errors import CommandFailed, CommandTimeout, TooLarge
from ramparts.toolkit.scope import fold_name, open_dir_checked, os_bytes, os_error
from ramparts.toolkit.text import text_codec

from .config import DangerousConfigWarning, Program, ShellState, configure
from .process import Proc, pump

__all__ = [
    "EVENT_EXIT",
    "EVENT_STDERR",
    "EVENT_STDOUT",
    "DangerousConfigWarning",
    "EventRate",
    "ExecOutput",
    "ShellState",
    "configure",
    "ramparts_capability",
    "ramparts_session_ended",
]

log = logging.getLogger("ramparts.shell")

#: Events a spawned child sends to the page that spawned it. Listen before spawning:
#: lines can arrive before ``spawn`` answers with the child's id.
EVENT_STDOUT = "shell:stdout"
EVENT_STDERR = "shell:stderr"
EVENT_EXIT = "shell:exit"
#: A line longer than this many characters reaches the page in pieces.
MAX_LINE = 64 * 1024
#: Seconds ``open`` waits for the opener to report success; a slower one is left running.
OPEN_WAIT = 5.0
MAX_TARGET = 8192

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Environment the desktop opener needs to find the session and the user's handlers.
_OPEN_ENV = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "TMPDIR",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XAUTHORITY",
    "DBUS_SESSION_BUS_ADDRESS",
    "DESKTOP_SESSION",
    "KDE_FULL_SESSION",
    "KDE_SESSION_VERSION",
    "GNOME_DESKTOP_SESSION_ID",
    "BROWSER",
)
_OPEN_ENV_PREFIXES = ("XDG_", "LC_")
# fmt: off
#: File types a desktop may run, install or hand to an interpreter when "opened".
_RISKY_SUFFIXES = frozenset({
    ".desktop", ".app", ".command", ".tool", ".terminal", ".workflow", ".action", ".scpt",
    ".scptd", ".applescript", ".jar", ".jnlp", ".appimage", ".flatpakref", ".flatpakrepo",
    ".snap", ".deb", ".rpm", ".pkg", ".mpkg", ".run", ".bin", ".sh", ".bash", ".zsh", ".csh",
    ".ksh", ".fish", ".py", ".pyw", ".pyz", ".pl", ".rb", ".php", ".js", ".jse", ".vbs",
    ".vbe", ".wsf", ".wsh", ".ps1", ".psm1", ".bat", ".cmd", ".com", ".exe", ".msi", ".msp",
    ".scr", ".pif", ".cpl", ".hta", ".lnk", ".reg", ".inf", ".scf", ".url", ".application",
    ".appref-ms", ".gadget", ".msc", ".dll", ".so", ".dylib", ".kext",
})
# fmt: on


class ExecOutput(TypedDict):
    """What ``execute`` answers. ``stdout``/``stderr`` are text, or bytes with
    ``output: "bytes"``; ``code`` is ``null`` when the program died from ``signal``."""

    code: int | None
    signal: int | None
    stdout: str | bytes
    stderr: str | bytes


# -- children of each session --------------------------------------------------------


@attrs.define(eq=False)
class Child:
    """A spawned program, known to the page only by a random id."""

    id: str
    proc: Proc
    encoding: str
    program: Program
    held: Held  # in its session's resources until reaped


@attrs.define
class _Owned:
    live: dict[str, Child] = attrs.field(factory=dict)
    starting: int = 0


class _Children:
    """Spawned children by session: ids never resolve in another session or window."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[WindowSession, _Owned] = {}

    def reserve(self, session: WindowSession, limit: int) -> None:
        """Hold a slot before starting, so concurrent spawns cannot pass ``limit``."""
        with self._lock:
            if session.closed:
                raise NotAllowed("this page's session has ended")
            owned = self._sessions.setdefault(session, _Owned())
            if len(owned.live) + owned.starting >= limit:
                raise TooLarge(f"at most {limit} spawned programs may run at once per window")
            owned.starting += 1

    def release(self, session: WindowSession) -> None:
        with self._lock:
            owned = self._sessions.get(session)
            if owned is not None:
                owned.starting -= 1

    def commit(self, session: WindowSession, child: Child) -> bool:
        """Record a started child; ``False`` if its session ended meanwhile (kill it)."""
        with self._lock:
            owned = self._sessions.get(session)
            if owned is None:
                return False
            owned.starting -= 1
            if session.closed:
                return False
            owned.live[child.id] = child
            return True

    def get(self, session: WindowSession, child_id: str) -> Child:
        with self._lock:
            owned = self._sessions.get(session)
            child = owned.live.get(child_id) if owned is not None else None
        if child is None:
            raise NotAllowed("no such child here (unknown id, finished, or another window's)")
        return child

    def remove(self, session: WindowSession, child_id: str) -> None:
        with self._lock:
            owned = self._sessions.get(session)
            if owned is not None:
                owned.live.pop(child_id, None)
                if not owned.live and not owned.starting:
                    del self._sessions[session]

    def end(self, session: WindowSession) -> list[Child]:
        """Forget every child of ``session`` and return them (to be killed)."""
        with self._lock:
            owned = self._sessions.pop(session, None)
        return list(owned.live.values()) if owned is not None else []

    def running(self, session: WindowSession | None = None) -> list[Child]:
        """Live children of ``session`` (or of every session)."""
        with self._lock:
            if session is None:
                groups = list(self._sessions.values())
            else:
                groups = [self._sessions[session]] if session in self._sessions else []
            return [c for owned in groups for c in owned.live.values()]


CHILDREN = _Children()


def _start_held(
    session: WindowSession, program: Program, argv: list[str], cwd: str, *, pipe_stdin: bool
) -> tuple[Proc, Held]:
    """Start a child held by ``session``: terminated when the session ends.

    The start happens inside ``session.resources.opening()``, which the session's end
    waits for: a child is never started for an ended session, nor missed by its end.
    """
    with session.resources.opening():
        proc = Proc.start(argv, program.environment(), cwd, pipe_stdin=pipe_stdin)
        try:
            held = session.resources.hold(proc.terminate)
        except SessionEnded:  # the end gave up waiting: terminated by hold; reap it
            proc.reap()
            raise
    return proc, held


# -- helpers -------------------------------------------------------------------------


def _state(ctx: CallContext) -> ShellState:
    state: ShellState = ctx.state
    return state


def _program(state: ShellState, name: str) -> Program:
    program = state.programs.get(name)
    if program is None:
        raise NotAllowed(f"program: no program named {name!r} is declared by this app")
    return program


def _encode(data: str | bytes, encoding: str, where: str) -> bytes:
    if isinstance(data, bytes):
        return data
    try:
        return data.encode(encoding)
    except UnicodeEncodeError as e:
        raise InvalidArgs(f"{where}: cannot be written as {encoding}: {e.reason}") from None


@contextlib.contextmanager
def _working_dir(state: ShellState, program: Program, cwd: str | None) -> Iterator[str]:
    """The checked working directory, held open until the child has started.

    On Linux the child changes into ``/proc/self/fd/N`` of the directory opened here,
    so a directory swapped for a symlink after the check cannot redirect it.
    """
    if cwd is None:
        yield state.default_cwd
        return
    canonical = program.cwd.resolve(cwd, where="cwd")
    fd = open_dir_checked(canonical)
    try:
        via_fd = f"/proc/self/fd/{fd}"
        yield via_fd if os.path.isdir(via_fd) else str(canonical)
    finally:
        os.close(fd)


def _status(code: int) -> tuple[int | None, int | None]:
    """``(exit code, signal)`` from a returncode (negative means killed by a signal)."""
    return (code, None) if code >= 0 else (None, -code)


class _Execution:
    """One ``execute`` run, cancellable from the event loop while it works in a thread."""

    def __init__(
        self,
        session: WindowSession,
        state: ShellState,
        program: Program,
        argv: list[str],
        cwd: str | None,
    ) -> None:
        self.session = session
        self.state, self.program, self.argv, self.cwd = state, program, argv, cwd
        self._lock = threading.Lock()
        self._proc: Proc | None = None
        self._cancelled = False

    def run(self, stdin: bytes | None) -> tuple[int, bytes, bytes]:
        program = self.program
        out: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}
        limit = program.max_output_bytes

        def collect(stream: int, chunk: bytes) -> None:
            out[stream] += chunk
            if len(out[1]) + len(out[2]) > limit:
                raise TooLarge(f"{program.name} wrote more than {limit} bytes; it was killed")

        with _working_dir(self.state, program, self.cwd) as cwd, self._lock:
            if self._cancelled:
                raise CommandTimeout(f"{program.name} was cancelled before it started")
            proc, held = _start_held(
                self.session, program, self.argv, cwd, pipe_stdin=stdin is not None
            )
            self._proc = proc
        try:
            deadline = time.monotonic() + program.timeout
            finished = pump(proc, collect, stdin_data=stdin, deadline=deadline)
        finally:
            code = proc.reap()
            held.drop()
        if not finished:
            raise CommandTimeout(
                f"{program.name} did not finish within {program.timeout:g} s; it was killed"
            )
        return code, bytes(out[1]), bytes(out[2])

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._proc is not None:
                self._proc.kill()


class EventRate:
    """At most ``per_second`` events a second on average (bursts of that many).

    :meth:`take` sleeps when the budget is spent: the watcher then stops reading, the
    child's pipe fills and the child blocks, so nothing is dropped and the page is not
    flooded.
    """

    def __init__(
        self,
        per_second: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rate = float(per_second)
        self._clock, self._sleep = clock, sleep
        self._tokens = self._rate
        self._last = clock()

    def take(self) -> None:
        now = self._clock()
        self._tokens = min(self._rate, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return
        wait = (1 - self._tokens) / self._rate
        self._sleep(wait)
        self._tokens = 0.0
        self._last = now + wait


class _OutputCap(Exception):
    """A spawned child wrote more than its ``spawn_max_output``."""


def _watch(session: WindowSession, child: Child) -> None:
    """Stream a spawned child's lines to its page, then reap it and send its exit.

    The child is killed past ``spawn_timeout`` or ``spawn_max_output``; the exit event's
    ``reason`` (``"timeout"``, ``"too_large"``, else ``None``) says so.
    """
    program = child.program
    names = {1: EVENT_STDOUT, 2: EVENT_STDERR}
    decoders = {s: codecs.getincrementaldecoder(child.encoding)("replace") for s in names}
    rest = {1: "", 2: ""}
    rate = EventRate(program.spawn_max_events)
    written = 0
    reason: str | None = None

    def emit(event: str, payload: dict[str, Any]) -> None:
        try:
            session.emit(event, payload)
        except Exception:
            log.exception("shell: could not send %s", event)

    def on_output(stream: int, chunk: bytes) -> None:
        nonlocal written
        written += len(chunk)
        if written > program.spawn_max_output:
            raise _OutputCap
        text = rest[stream] + decoders[stream].decode(chunk, final=not chunk)
        *lines, tail = text.split("\n")
        if not chunk and tail:  # EOF: the last line had no newline
            lines.append(tail)
            tail = ""
        while len(tail) > MAX_LINE:
            lines.append(tail[:MAX_LINE])
            tail = tail[MAX_LINE:]
        rest[stream] = tail
        for line in lines:
            line = line.removesuffix("\r")
            for start in range(0, max(len(line), 1), MAX_LINE):
                rate.take()
                emit(names[stream], {"child": child.id, "line": line[start : start + MAX_LINE]})

    limit = program.spawn_timeout
    deadline = None if math.isinf(limit) else time.monotonic() + limit
    try:
        if not pump(child.proc, on_output, deadline=deadline):
            reason = "timeout"
    except _OutputCap:
        reason = "too_large"
    except Exception:
        log.exception("shell: watching %s failed", program.name)
    finally:
        code, sig = _status(child.proc.reap())
        child.held.drop()
        CHILDREN.remove(session, child.id)
        emit(EVENT_EXIT, {"child": child.id, "code": code, "signal": sig, "reason": reason})


# -- commands ------------------------------------------------------------------------


@command
async def execute(
    ctx: CallContext,
    program: str,
    args: tuple[str, ...] = (),
    cwd: str | None = None,
    stdin: str | bytes | None = None,
    output: Literal["text", "bytes"] = "text",
    encoding: str = "utf-8",
) -> ExecOutput:
    """Run a declared program to completion and return its exit status and output.

    Async so that when the bridge gives up on the call (``security.command_timeout``)
    the cancellation reaches here and the program is killed, not left running.
    """
    state = _state(ctx)
    prog = _program(state, program)
    argv = prog.argv(args)
    codec = text_codec(encoding)
    data = _encode(stdin, codec, "stdin") if stdin is not None else None
    run = _Execution(ctx.session, state, prog, argv, cwd)
    try:
        code, out, err = await asyncio.to_thread(run.run, data)
    except asyncio.CancelledError:
        run.cancel()
        raise
    exit_code, sig = _status(code)
    if output == "bytes":
        return {"code": exit_code, "signal": sig, "stdout": out, "stderr": err}
    return {
        "code": exit_code,
        "signal": sig,
        "stdout": out.decode(codec, errors="replace"),
        "stderr": err.decode(codec, errors="replace"),
    }


@command
def spawn(
    ctx: CallContext,
    program: str,
    args: tuple[str, ...] = (),
    cwd: str | None = None,
    encoding: str = "utf-8",
) -> str:
    """Start a declared program and return its child id; its output arrives as events.

    ``shell:stdout`` / ``shell:stderr`` carry ``{child, line}``; ``shell:exit`` carries
    ``{child, code, signal, reason}`` once it has ended and been reaped. The child is
    killed when this page's session ends, or when it passes ``spawn_timeout`` or
    ``spawn_max_output`` (``reason`` is then ``"timeout"`` or ``"too_large"``).
    """
    state = _state(ctx)
    prog = _program(state, program)
    argv = prog.argv(args)
    codec = text_codec(encoding)
    session = ctx.session
    CHILDREN.reserve(session, state.max_children)
    try:
        with _working_dir(state, prog, cwd) as wd:
            proc, held = _start_held(session, prog, argv, wd, pipe_stdin=True)
    except BaseException:
        CHILDREN.release(session)
        raise
    child = Child(secrets.token_urlsafe(16), proc, codec, prog, held)
    # The session may end between the start and here: the end terminated the child,
    # and the ids the hook below forgot must not get this one back.
    alive = CHILDREN.commit(session, child)
    threading.Thread(
        target=_watch, args=(session, child), name=f"ramparts-shell-{prog.name}", daemon=True
    ).start()
    if not alive:
        raise NotAllowed("this page's session has ended")
    return child.id


@command
def write(ctx: CallContext, child: str, data: str | bytes, close: bool = False) -> None:
    """Write to a spawned child's stdin (text in the child's encoding, or bytes).

    ``close: true`` closes stdin afterwards, which is how the child sees end of input.
    """
    found = CHILDREN.get(ctx.session, child)
    payload = _encode(data, found.encoding, "data")
    found.proc.write_stdin(payload, close=close, timeout=found.program.timeout)


@command
def kill(ctx: CallContext, child: str) -> None:
    """Kill a spawned child and everything it started (SIGKILL to its process group)."""
    CHILDREN.get(ctx.session, child).proc.kill()


@command(name="open")
def open_(ctx: CallContext, target: str) -> None:
    """Open a URL (or an allowed, non-executable file) with the desktop's default handler.

    Never starts a local program: executables and file types a desktop would run are
    refused, and the opener gets the target as a single argument, never via a shell.
    """
    state = _state(ctx)
    argument = _open_argument(state, target)
    if state.opener is None:
        raise CommandFailed("there is no desktop opener (xdg-open) on this system")
    env = {
        k: v for k, v in os.environ.items() if k in _OPEN_ENV or k.startswith(_OPEN_ENV_PREFIXES)
    }
    try:
        opener = subprocess.Popen(
            [state.opener, argument],
            shell=False,
            env=env,
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as e:
        raise CommandFailed(f"the desktop opener could not be started: {e.strerror}") from None
    try:
        code = opener.wait(OPEN_WAIT)
    except subprocess.TimeoutExpired:
        # Some openers run the handler in the foreground: leave it (it is the user's
        # browser now), but still reap it when it ends.
        threading.Thread(target=opener.wait, name="ramparts-shell-open", daemon=True).start()
        return
    if code != 0:
        raise CommandFailed(f"the desktop could not open it (the opener exited with {code})")


def _open_argument(state: ShellState, target: str) -> str:
    """Check ``target`` and return what the opener gets (a URL, or a canonical path)."""
    if state.open_pattern is None:
        raise NotAllowed("open is turned off in this app's config (open = false)")
    if not target or len(target) > MAX_TARGET:
        raise InvalidArgs(f"target: give a URL or path of 1 to {MAX_TARGET} characters")
    if _CONTROL.search(target):
        raise InvalidArgs("target: control characters are not allowed")
    if os_bytes(target) is None:
        # The pattern reads text and the opener gets bytes: lone surrogates would make
        # those two different names (a URL included, not only a path).
        raise InvalidArgs("target: not valid text (lone surrogates)")
    if target.startswith("-"):
        raise InvalidArgs("target: cannot start with '-' (the opener would read an option)")
    if state.open_pattern.fullmatch(target) is None:
        raise OutOfScope(f"target: {target!r} does not match this app's open pattern")
    scheme = _SCHEME.match(target)
    if target.startswith("/") or (scheme is not None and scheme.group().lower() == "file:"):
        return _open_file(state, target)
    if scheme is None:
        raise InvalidArgs("target: give a URL with a scheme (https://...) or an absolute path")
    if any(c.isspace() for c in target) or "\\" in target:
        raise InvalidArgs("target: a URL cannot contain spaces or backslashes")
    try:
        parts = urlsplit(target)
        host = parts.hostname
    except ValueError:
        raise InvalidArgs("target: not a valid URL") from None
    if "@" in parts.netloc:
        raise InvalidArgs("target: URLs with user info (user@host) are refused")
    if parts.scheme.lower() in ("http", "https") and not host:
        raise InvalidArgs("target: the URL has no host")
    return target


def _open_file(state: ShellState, target: str) -> str:
    if target.startswith("/"):
        path = target
    else:
        parts = urlsplit(target)
        if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
            raise InvalidArgs("target: only plain local file: URLs can be opened")
        try:
            # Strict: "%FF" must not quietly become U+FFFD, another name than was sent.
            path = unquote(parts.path, errors="strict")
        except UnicodeDecodeError:
            raise InvalidArgs("target: the file: URL's path is not valid UTF-8") from None
    canonical = state.open_files.resolve(path, where="target")
    try:
        info = os.stat(canonical)
    except OSError as e:
        raise os_error(e, canonical) from None
    if not stat.S_ISREG(info.st_mode):
        raise InvalidArgs(f"target: {canonical} is not a regular file")
    if info.st_mode & 0o111:
        raise NotAllowed(f"target: {canonical} is executable; open never starts programs")
    for name in (canonical.name, os.path.basename(path)):
        # Folded: ".SH", ".s\u200ch" (one name with ".sh" on HFS+) are ".sh" too.
        suffix = os.path.splitext(fold_name(name))[1]
        if suffix in _RISKY_SUFFIXES:
            raise NotAllowed(f"target: {suffix} files may run code when opened; refused")
    return str(canonical)


COMMANDS: list[Callable[..., Any]] = [execute, spawn, write, kill, open_]


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    return Capability(
        name="shell",
        commands=COMMANDS,
        configure=configure,
        description="declared programs with checked arguments; open https URLs",
    )


@ramparts.hookimpl
def ramparts_session_ended(session: WindowSession) -> None:
    """Forget the session's child ids. Its children were terminated when it ended
    (``session.resources``); their watcher threads reap them. Never blocks."""
    CHILDREN.end(session)
