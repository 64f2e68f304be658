"""Helper process for the crash tests in ``test_store.py``.

It changes one store with the real ``store.set`` command (real config, real session)
until the test kills it with SIGKILL::

    python store_kill_writer.py APP_DIR MODE [SECONDS]

The store ``crash`` holds one key, ``doc``, whose value alternates between the two
``STATES`` (2 MiB each); the first write puts the one the store does not hold yet. The
environment's home folder decides where ``$APPDATA`` is. MODE:

``timer``
    print ``ready``, then write forever, printing ``wrote`` after each complete write,
    and SIGKILL itself SECONDS after ``ready`` from another thread: the kill lands
    wherever the writing thread is then, which no pipe round trip with the test could
    aim at (a kill sent on reading ``wrote`` lands in the next write's JSON encoding).
``once``
    write once, print ``wrote``, and wait to be killed.
``keys``
    set SECONDS (here a count) keys named ``<pid>-<n>``, then exit: two such processes
    at once must lose none of each other's keys.
``mid-write``
    write half of the temporary file, print ``paused`` and wait to be killed.
``before-rename``
    write and fsync the whole temporary file, print ``paused`` before the rename.
``after-rename``
    rename the temporary file over the store, print ``paused`` before the final
    directory fsync.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import ramparts_store
from ramparts import CallContext, ConfigContext
from ramparts.bridge.session import Registry, WindowSession
from ramparts_store.commands import get, set_

IDENTIFIER = "dev.ramparts.crash"
SIZE = 2 * 1024 * 1024
STATES = ({"tag": "A", "fill": "A" * SIZE}, {"tag": "B", "fill": "B" * SIZE})
TABLE = {"stores": ["crash"], "max_value_bytes": 3 * SIZE, "max_store_bytes": 3 * SIZE}


def _pause(*_: Any, **__: Any) -> None:
    print("paused", flush=True)
    while True:
        time.sleep(60)


def main(app_dir: Path, mode: str) -> None:
    ctx = ConfigContext(
        app_dir / "pyproject.toml", "tool.ramparts.capabilities.store", app_dir, IDENTIFIER
    )
    state = ramparts_store.configure(TABLE, ctx)
    session = WindowSession("main", Registry(), "per-session", lambda _text: None)
    call = CallContext("store", "set", "main", state, session)
    held = get(call, "crash", "doc")
    i = 1 if held == STATES[0] else 0

    if mode == "mid-write":
        real_write = os.write

        def half_write(fd: int, data: Any) -> int:
            real_write(fd, bytes(data[: len(data) // 2]))
            _pause()
            return 0

        os.write = half_write  # type: ignore[assignment]
    elif mode == "before-rename":
        os.replace = _pause  # type: ignore[assignment]
    elif mode == "after-rename":
        real_replace = os.replace

        def replace_then_pause(*args: Any, **kwargs: Any) -> None:
            real_replace(*args, **kwargs)
            _pause()

        os.replace = replace_then_pause  # type: ignore[assignment]
    elif mode == "timer":
        print("ready", flush=True)
        threading.Timer(float(sys.argv[3]), os.kill, (os.getpid(), signal.SIGKILL)).start()
    elif mode == "keys":
        for n in range(int(sys.argv[3])):
            set_(call, "crash", f"{os.getpid()}-{n}", n)
        return
    elif mode == "once":
        set_(call, "crash", "doc", STATES[i % 2])
        print("wrote", flush=True)
        _pause()
    else:
        raise SystemExit(f"unknown mode {mode!r}")

    while True:
        set_(call, "crash", "doc", STATES[i % 2])
        print("wrote", flush=True)
        i += 1


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
