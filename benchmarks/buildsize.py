"""Build size and time: a built Ramparts hello app against plain PyInstaller + pywebview.

    uv run python benchmarks/buildsize.py [--out FILE]

Both are onedir builds from the same venv on the same machine, in one run, of the hello
apps that ``startup.py`` measures:

- **pywebview**: ``python -m PyInstaller --onedir`` of the plain pywebview hello script,
  with ``--hidden-import webview.platforms.qt`` (pywebview imports it by name, and
  ``ramparts build`` passes the same flag);
- **ramparts**: ``ramparts build`` of the Ramparts hello app (unsigned: no key).

Size is the sum of the file sizes in the output folder; time is the wall time of the
build command. Every build starts clean (its work and output folders removed), but
PyInstaller keeps a shared cache of analysed binaries (``~/.cache/pyinstaller``), so
each build runs twice, the two kinds alternating, and the second build of each kind
counts. If ``ramparts build`` is not available, the section says so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bridge import machine, write_json
from startup import PYWEBVIEW_APP, ramparts_app

#: Built app no more than 5% larger than the plain PyInstaller build (issue 9).
TARGET_SIZE_RATIO = 1.05
MB = 1024 * 1024


def unavailable() -> str | None:
    """Why the Ramparts build cannot be measured here, or ``None`` if it can."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ramparts", "build", "--help"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"ramparts build missing ({e})"
    return None if done.returncode == 0 else "ramparts build missing"


def tree_size(path: Path) -> int:
    """Bytes in every file under ``path`` (symlinks counted as links, not followed)."""
    total = 0
    for dirpath, _, names in os.walk(path):
        for name in names:
            total += (Path(dirpath) / name).lstat().st_size
    return total


def timed_build(cmd: list[str], log: Path) -> float:
    """Run a build command; its wall time in seconds. Raises with the log's end if it fails."""
    started = time.monotonic()
    with log.open("w") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=1800)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise RuntimeError(f"{cmd[:4]} exited {done.returncode}:\n" + "\n".join(tail))
    return seconds


def measure(root: Path, rounds: int = 2) -> dict[str, Any]:
    """Build both hello apps ``rounds`` times, alternating; the last round counts."""
    why = unavailable()
    if why is not None:
        return {"available": False, "reason": why}
    root.mkdir(parents=True, exist_ok=True)
    script = root / "pywebview_hello.py"
    script.write_text(PYWEBVIEW_APP)
    app = ramparts_app(root / "hello")
    dist = root / "dist"
    builds = {
        "pywebview": (
            [
                *(sys.executable, "-m", "PyInstaller", "--noconfirm", "--onedir"),
                *("--name", "pywebview_hello", "--distpath", str(dist / "pywebview")),
                *("--workpath", str(root / "work"), "--specpath", str(root / "spec")),
                *("--hidden-import", "webview.platforms.qt", str(script)),
            ],
            dist / "pywebview" / "pywebview_hello",
        ),
        "ramparts": (
            [sys.executable, "-m", "ramparts", "build", str(app), "--out", str(dist / "ramparts")],
            dist / "ramparts" / "hellobench",
        ),
    }
    # Each build starts clean (no work folder, no output), so neither reuses its own
    # previous analysis; PyInstaller's shared cache stays warm after the first round.
    leftovers = {"pywebview": [root / "work", dist / "pywebview"], "ramparts": [app / "build"]}
    leftovers["ramparts"].append(dist / "ramparts")
    seconds: dict[str, list[float]] = {name: [] for name in builds}
    for i in range(rounds):
        for name, (cmd, _) in builds.items():
            print(f"  build: {name}, round {i + 1}/{rounds} ...", flush=True)
            for path in leftovers[name]:
                shutil.rmtree(path, ignore_errors=True)
            seconds[name].append(timed_build(cmd, root / f"{name}-{i}.log"))
    result: dict[str, Any] = {"available": True, "rounds": rounds}
    for name, (_, artifact) in builds.items():
        result[name] = {
            "seconds": seconds[name][-1],
            "seconds_rounds": seconds[name],
            "size_mb": tree_size(artifact) / MB,
        }
    result["size_ratio"] = result["ramparts"]["size_mb"] / result["pywebview"]["size_mb"]
    result["time_ratio"] = result["ramparts"]["seconds"] / result["pywebview"]["seconds"]
    result["target_size_ratio"] = TARGET_SIZE_RATIO
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "build.json")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ramparts-build-bench-") as tmp:
        result = measure(Path(tmp), args.rounds)
    result["machine"] = machine()
    if not result["available"]:
        print(f"build: not available: {result['reason']}")
    else:
        for name in ("pywebview", "ramparts"):
            r = result[name]
            print(f"{name:10} {r['size_mb']:8.1f} MB {r['seconds']:8.1f} s")
        print(
            f"size ratio x{result['size_ratio']:.3f} (target <= {TARGET_SIZE_RATIO}), "
            f"time ratio x{result['time_ratio']:.2f}"
        )
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
