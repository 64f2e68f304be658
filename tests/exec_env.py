"""The environment each program a process tree executed was given, read from
``strace -f -v -e trace=execve`` (tests run it around built apps)."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["STRACE_EXECVE", "library_paths"]

#: A wrapper that records every execve of the tree with its environment; seccomp-bpf
#: stops the traced processes at execve only, so a web engine runs at its usual speed.
STRACE_EXECVE = (
    "strace", "-f", "--seccomp-bpf", "-qq", "-v", "-s", "65536",
    "-e", "trace=execve", "-e", "signal=none",
)  # fmt: skip

_EXECVE = re.compile(r'execve\("((?:[^"\\]|\\.)*)"')
_LIBRARY_PATH = re.compile(r'"LD_LIBRARY_PATH=((?:[^"\\]|\\.)*)"')


def library_paths(trace: Path) -> list[tuple[str, str | None]]:
    """``(program, its LD_LIBRARY_PATH or None)`` for each program started, in order.

    With ``-f`` a call another process interrupts is written in two lines, ``execve(...
    <unfinished ...>`` and ``<... execve resumed>) = 0``: they are joined by pid."""
    found = []
    unfinished: dict[str, str] = {}
    for line in trace.read_text(errors="replace").splitlines():
        pid, _, call = line.partition(" ")
        if "<unfinished ...>" in call and "execve(" in call:
            unfinished[pid] = call
            continue
        if call.startswith("<... execve resumed>"):
            call = unfinished.pop(pid, "") + call
        program = _EXECVE.search(call)
        if program is None or not call.rstrip().endswith("= 0"):
            continue  # not an execve, or one that failed (a PATH search's misses)
        value = _LIBRARY_PATH.search(call)
        found.append((program[1], value[1] if value else None))
    return found
