"""Helper process for the crash tests in ``test_fs.py``.

It writes one file with the real ``fs.write_bytes`` command (real scope, real session)
until the test kills it with SIGKILL::

    python fs_kill_writer.py TARGET MODE

The scope allows exactly the files in TARGET's directory. The first write puts the
content the file does not hold yet; then the two contents alternate. MODE:

``loop``
    print ``ready``, then write forever, printing ``wrote`` after each complete write
    (the test kills it at a random moment).
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
import sys
import time
from pathlib import Path
from typing import Any

import ramparts_fs.commands
from ramparts import CallContext, ConfigContext
from ramparts.bridge.session import Registry, WindowSession

SIZE = 2 * 1024 * 1024
CONTENTS = (b"A" * SIZE, b"B" * SIZE)
TEMP_NAME = r"\.ramparts-[0-9a-f]{16}\.tmp"


def _pause(*_: Any, **__: Any) -> None:
    print("paused", flush=True)
    while True:
        time.sleep(60)


def main(target: Path, mode: str) -> None:
    folder = target.parent
    ctx = ConfigContext(folder / "pyproject.toml", "tool.ramparts.capabilities.fs", folder, "t")
    state = ramparts_fs.configure({"scope": {"allow": [f"{folder}/*"]}}, ctx)
    session = WindowSession("main", Registry(), "per-session", lambda _text: None)
    call = CallContext("fs", "write_bytes", "main", state, session)
    i = 1 if target.read_bytes() == CONTENTS[0] else 0

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
    elif mode == "loop":
        print("ready", flush=True)
    elif mode == "once":
        ramparts_fs.commands.write_bytes(call, str(target), CONTENTS[i % 2])
        print("wrote", flush=True)
        _pause()
    else:
        raise SystemExit(f"unknown mode {mode!r}")

    while True:
        ramparts_fs.commands.write_bytes(call, str(target), CONTENTS[i % 2])
        print("wrote", flush=True)
        i += 1


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
