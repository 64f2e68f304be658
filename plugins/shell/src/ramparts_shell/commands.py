"""``execute``, ``spawn``, ``write`` and ``kill``: running the programs the app declared.

``execute`` runs one to completion in a worker thread; ``spawn`` starts one whose output
:mod:`.streaming` sends as events, and which ``write`` and ``kill`` then reach by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Literal, TypedDict

from ramparts import (
    CallContext,
    CommandTimeout,
    NotAllowed,
    TooLarge,
    WindowSession,
    command,
)
from ramparts.toolkit import encode_text, open_dir_checked, text_codec

from .children import CHILDREN, Child, start_held
from .config import Program, ShellState
from .process import Proc, exit_status, pump
from .streaming import watch

__all__ = ["ExecOutput", "execute", "kill", "spawn", "write"]


class ExecOutput(TypedDict):
    """What ``execute`` answers. ``stdout``/``stderr`` are text, or bytes with
    ``output: "bytes"``; ``code`` is ``null`` when the program died from ``signal``."""

    code: int | None
    signal: int | None
    stdout: str | bytes
    stderr: str | bytes


def _state(ctx: CallContext) -> ShellState:
    state: ShellState = ctx.state
    return state


def _program(state: ShellState, name: str) -> Program:
    program = state.programs.get(name)
    if program is None:
        raise NotAllowed(f"program: no program named {name!r} is declared by this app")
    return program


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
            proc, held = start_held(
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
    data = encode_text(stdin, codec, "stdin") if isinstance(stdin, str) else stdin
    run = _Execution(ctx.session, state, prog, argv, cwd)
    try:
        code, out, err = await asyncio.to_thread(run.run, data)
    except asyncio.CancelledError:
        run.cancel()
        raise
    exit_code, sig = exit_status(code)
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
            proc, held = start_held(session, prog, argv, wd, pipe_stdin=True)
    except BaseException:
        CHILDREN.release(session)
        raise
    child = Child(secrets.token_urlsafe(16), proc, codec, prog, held)
    # The session may end between the start and here: the end terminated the child,
    # and the ids the hook below forgot must not get this one back.
    alive = CHILDREN.commit(session, child)
    threading.Thread(
        target=watch, args=(session, child), name=f"ramparts-shell-{prog.name}", daemon=True
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
    payload = data if isinstance(data, bytes) else encode_text(data, found.encoding, "data")
    found.proc.write_stdin(payload, close=close, timeout=found.program.timeout)


@command
def kill(ctx: CallContext, child: str) -> None:
    """Kill a spawned child and everything it started (SIGKILL to its process group)."""
    CHILDREN.get(ctx.session, child).proc.kill()
