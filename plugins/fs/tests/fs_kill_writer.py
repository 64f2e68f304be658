"""Helper process for the crash tests in ``test_fs.py``.

It writes one file with the real ``fs.write_bytes`` command (real scope, real session)
until the test kills it with SIGKILL::

    python fs_kill_writer.py TARGET MODE

The scope allows exactly the files in TARGET's directory. The first write puts the
content the file does not hold yet; then the two contents alternate. MODE is one of
``tests/kill_writer.py``'s (``loop``, ``once`` and the step modes here).
"""

from __future__ import annotations

import sys
from pathlib import Path

from kill_writer import write_until_killed

import ramparts_fs.commands
from ramparts import CallContext, ConfigContext
from ramparts.bridge.session import Registry, WindowSession

SIZE = 2 * 1024 * 1024
CONTENTS = (b"A" * SIZE, b"B" * SIZE)


def main(target: Path, mode: str) -> None:
    folder = target.parent
    ctx = ConfigContext(folder / "pyproject.toml", "tool.ramparts.capabilities.fs", folder, "t")
    state = ramparts_fs.configure({"scope": {"allow": [f"{folder}/*"]}}, ctx)
    session = WindowSession("main", Registry(), "per-session", lambda _text: None)
    call = CallContext("fs", "write_bytes", "main", state, session)
    first = 1 if target.read_bytes() == CONTENTS[0] else 0

    def write(n: int) -> None:
        ramparts_fs.commands.write_bytes(call, str(target), CONTENTS[n])

    write_until_killed(mode, write, first)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
