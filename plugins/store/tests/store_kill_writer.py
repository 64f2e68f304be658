"""Helper process for the crash tests in ``test_store.py``.

It changes one store with the real ``store.set`` command (real config, real session)
until the test kills it with SIGKILL::

    python store_kill_writer.py APP_DIR MODE [SECONDS]

The store ``crash`` holds one key, ``doc``, whose value alternates between the two
``STATES`` (2 MiB each); the first write puts the one the store does not hold yet. The
environment's home folder decides where ``$APPDATA`` is. MODE is one of
``tests/kill_writer.py``'s (``timer``, ``once`` and the step modes here: a kill the test
sent on reading ``wrote`` would land in the next write's JSON encoding, so ``timer``
aims the unplanned kills), or:

``keys``
    set SECONDS (here a count) keys named ``<pid>-<n>``, then exit: two such processes
    at once must lose none of each other's keys.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from kill_writer import write_until_killed

import ramparts_store
from ramparts import CallContext, ConfigContext
from ramparts.bridge.session import Registry, WindowSession
from ramparts_store.commands import get, set_

IDENTIFIER = "dev.ramparts.crash"
SIZE = 2 * 1024 * 1024
STATES = ({"tag": "A", "fill": "A" * SIZE}, {"tag": "B", "fill": "B" * SIZE})
TABLE = {"stores": ["crash"], "max_value_bytes": 3 * SIZE, "max_store_bytes": 3 * SIZE}


def main(app_dir: Path, mode: str) -> None:
    ctx = ConfigContext(
        app_dir / "pyproject.toml", "tool.ramparts.capabilities.store", app_dir, IDENTIFIER
    )
    state = ramparts_store.configure(TABLE, ctx)
    session = WindowSession("main", Registry(), "per-session", lambda _text: None)
    call = CallContext("store", "set", "main", state, session)
    first = 1 if get(call, "crash", "doc") == STATES[0] else 0
    if mode == "keys":
        for n in range(int(sys.argv[3])):
            set_(call, "crash", f"{os.getpid()}-{n}", n)
        return

    def write(n: int) -> None:
        set_(call, "crash", "doc", STATES[n])

    write_until_killed(mode, write, first)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
