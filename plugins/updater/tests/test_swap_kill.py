"""``kill -9`` during the swap: at every step of an install the update root still holds
a build that verifies and launches, the old one or the new one, and the next install
completes.

The swap runs in a child process that reports each step on stdout and waits; the test
kills it there with SIGKILL (nothing of the child's can run after that).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from update_fixtures import APP, make_build

from ramparts.release.signing import public_pem
from ramparts.release.updates import install, make_release, preferred_update

_CHILD = """
import json, sys
from ramparts.release.signing import load_public_key
from ramparts.release.updates import install
archive, version, pem, root = json.loads(sys.argv[1])

def step(name):
    print(name, flush=True)
    sys.stdin.readline()  # wait: the parent kills us here, or lets us go on

install(Path(archive), version, [load_public_key(pem, "key")], {app!r}, Path(root), step=step)
print("done", flush=True)
""".replace("import json, sys", "import json, sys\nfrom pathlib import Path")

STEPS = ["unpacked", "placed", "checked", "switched", "kept"]


def release(tmp: Path, version: str, key: Ed25519PrivateKey) -> Path:
    artifact = make_build(tmp / "builds" / version / "app", version, key)
    done = make_release(
        artifact, key, tmp / "out", url=None, notes="", expires_in_days=1, say=lambda line: None
    )
    return done.archive


def launches(root: Path, key: Ed25519PrivateKey) -> str:
    """The version the installed 1.0 app would run now: the update root's, or its own."""
    executable = preferred_update(root, [key.public_key()], APP, "1.0")
    if executable is None:
        return "1.0"
    ran = subprocess.run([executable], capture_output=True, text=True, timeout=60, check=True)
    version: str = json.loads(ran.stdout)["version"]
    return version


@pytest.mark.parametrize("kill_at", STEPS)
def test_a_swap_killed_at_any_step_leaves_a_build_that_launches(
    tmp_path: Path, kill_at: str
) -> None:
    key = Ed25519PrivateKey.generate()
    root = tmp_path / "updates"
    install(release(tmp_path, "1.1", key), "1.1", [key.public_key()], APP, root)
    archive = release(tmp_path, "1.2", key)
    argv = json.dumps([str(archive), "1.2", public_pem(key.public_key()).decode(), str(root)])
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD.format(app=APP), argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        for line in child.stdout:
            if line.strip() == kill_at:
                break
            child.stdin.write("\n")
            child.stdin.flush()
        else:
            pytest.fail(f"the child never reached {kill_at}")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=60)
        child.stdin.close()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    # Old before the flip, new after it: never neither, never a mix.
    expected = "1.1" if STEPS.index(kill_at) < STEPS.index("switched") else "1.2"
    assert launches(root, key) == expected
    # Leftovers (a staging folder, an unfinished version) do not stop the next install.
    if expected == "1.1":
        install(archive, "1.2", [key.public_key()], APP, root)
    assert launches(root, key) == "1.2"
    assert not [p for p in root.iterdir() if p.name.startswith(".")]


def test_a_pointer_left_half_made_is_ignored(tmp_path: Path) -> None:
    """Killed between making ``.current.new`` and renaming it over ``current``."""
    key = Ed25519PrivateKey.generate()
    root = tmp_path / "updates"
    install(release(tmp_path, "1.1", key), "1.1", [key.public_key()], APP, root)
    os.symlink("versions/1.2", root / ".current.new")
    assert launches(root, key) == "1.1"
    install(release(tmp_path, "1.2", key), "1.2", [key.public_key()], APP, root)
    assert launches(root, key) == "1.2"
