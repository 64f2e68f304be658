"""Run code that file permissions apply to, even when the tests run as root (as in CI).

Two ways, for the two kinds of test:

- :func:`run` starts a command. Root ignores ``chmod 000`` through two capabilities; the
  child drops them from its bounding set before ``exec``, so it keeps uid 0 (and can
  still run this venv's Python) but gets ``EACCES`` like any user would.
- :func:`call` runs a function of this process in a forked child that has become uid
  and gid 65534 (nobody), since a bounding set only takes effect at ``exec``.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
from collections.abc import Callable
from typing import Any

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def _drop_overrides() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(cmd, capture_output=True, text=True)`` where permissions hold."""
    preexec = _drop_overrides if os.geteuid() == 0 else None
    return subprocess.run(cmd, capture_output=True, text=True, preexec_fn=preexec, **kwargs)


NOBODY = 65534


def call(fn: Callable[[], Any]) -> Any:
    """``fn()`` as an unprivileged user; its result must be JSON. Under root it runs in a
    forked child that dropped to uid/gid 65534 first; otherwise it simply runs."""
    if os.geteuid() != 0:
        return fn()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.write(write, json.dumps(fn()).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        out = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and out, "the unprivileged call failed"
    return json.loads(out)
