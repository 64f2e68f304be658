"""Crash tests of an atomic write: a writer process, killed with SIGKILL at unplanned
moments or at a chosen step of a write. Shared by the writers of each plugin
(``plugins/fs/tests/fs_kill_writer.py``, ``plugins/store/tests/store_kill_writer.py``),
which set up their real command and its content, and by their tests, which start and
kill them.

The modes every writer runs (``write_until_killed``):

``loop``
    print ``ready``, then write forever, printing ``wrote`` after each complete write
    (the test kills it at a random moment).
``timer``
    the same, and SIGKILL itself SECONDS after ``ready`` from another thread: the kill
    lands wherever the writing thread is then, which no pipe round trip with the test
    could aim at.
``once``
    write once, print ``wrote``, and wait to be killed.
``mid-write``
    write half of the temporary file, print ``paused`` and wait to be killed.
``before-rename``
    write and fsync the whole temporary file, print ``paused`` before the rename.
``after-rename``
    rename the temporary file over the target, print ``paused`` before the final
    directory fsync.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The name of the temporary file an atomic write leaves when it is killed before the rename.
TEMP = re.compile(r"\.ramparts-[0-9a-f]{16}\.tmp")


# -- in the writer process ---------------------------------------------------------------


def pause(*_: Any, **__: Any) -> None:
    """Print ``paused`` and wait to be killed."""
    print("paused", flush=True)
    while True:
        time.sleep(60)


def _pause_at(step: str) -> None:
    """Make the next atomic write pause at ``step`` (one of the step modes)."""
    if step == "mid-write":
        real_write = os.write

        def half_write(fd: int, data: Any) -> int:
            real_write(fd, bytes(data[: len(data) // 2]))
            pause()
            return 0

        os.write = half_write
    elif step == "before-rename":
        os.replace = pause
    else:
        real_replace = os.replace

        def replace_then_pause(*args: Any, **kwargs: Any) -> None:
            real_replace(*args, **kwargs)
            pause()

        os.replace = replace_then_pause


def write_until_killed(mode: str, write: Callable[[int], None], first: int) -> None:
    """Run ``mode`` (the modes above; ``timer`` reads SECONDS from ``sys.argv[3]``) with
    ``write(n)``, which writes the writer's content ``n`` (0 or 1): first ``first``, then
    the two in turn."""
    if mode in ("mid-write", "before-rename", "after-rename"):
        _pause_at(mode)
    elif mode in ("loop", "timer"):
        print("ready", flush=True)
        if mode == "timer":
            kill = (os.getpid(), signal.SIGKILL)
            threading.Timer(float(sys.argv[3]), os.kill, kill).start()
    elif mode == "once":
        write(first)
        print("wrote", flush=True)
        pause()
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    i = first
    while True:
        write(i % 2)
        print("wrote", flush=True)
        i += 1


# -- in the test -------------------------------------------------------------------------


def start(writer: Path, *args: str) -> subprocess.Popen[bytes]:
    """Start the ``writer`` script with ``args``; it finds this module on PYTHONPATH."""
    path = [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}
    cmd = [sys.executable, str(writer), *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def started(writer: Path, *args: str, says: str) -> subprocess.Popen[bytes]:
    """Start the ``writer`` and wait (up to 120 s) for its first line, which must be
    ``says``."""
    proc = start(writer, *args)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 120)
    line = proc.stdout.readline().decode().strip() if ready else ""
    if line != says:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"writer said {line!r}, expected {says!r}\n{err.decode()}")
    return proc


def kill(proc: subprocess.Popen[bytes]) -> bytes:
    """SIGKILL the writer; return what it printed since it was started."""
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate()
    assert proc.returncode == -signal.SIGKILL  # killed, not stopped on its own
    return out
