"""Run a child process that file permissions apply to, even when the tests run as root.

Root ignores ``chmod 000`` through two capabilities; the child drops them from its
bounding set before ``exec``, so it keeps uid 0 (and can still run this venv's Python)
but gets ``EACCES`` like any user would.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
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
