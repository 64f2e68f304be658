"""Build size and time: a built Ramparts hello app against plain PyInstaller + pywebview.

    uv run python benchmarks/buildsize.py [--rounds N] [--out FILE]

All are onedir builds from the same venv on the same machine, in one run, of the hello
apps that ``startup.py`` measures, once per engine:

- **pywebview**: ``python -m PyInstaller --onedir`` of the plain pywebview hello script,
  with ``--hidden-import webview.platforms.qt`` (pywebview imports it by name, and
  ``ramparts build`` passes the same flag); for GTK, ``webview.platforms.gtk`` and
  ``--exclude-module PyQt6 --exclude-module qtpy`` (a GTK app built where Qt is not
  installed: otherwise PyInstaller collects Qt too);
- **ramparts**: ``ramparts build`` of the Ramparts hello app (unsigned: no key), with
  ``backend = "gtk"`` for the GTK row.

What the Ramparts builds leave out is read from their progress lines, one row per rule
of the backend's ``Shipping.prune``: bytes for the files pruned after PyInstaller, and
"not collected" for modules PyInstaller never collects (their size is part of the
difference to the pywebview build).

Size is the sum of the file sizes in the output folder; time is the wall time of the
build command. Every build starts clean (its work and output folders removed), but
PyInstaller keeps a shared cache of analysed binaries (``~/.cache/pyinstaller``), so
each build runs twice, the two kinds alternating, and the second build of each kind
counts. If ``ramparts build`` is not available, the section says so.
"""

from __future__ import annotations

import argparse
import os
import re
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

#: Built Qt app at most half the plain PyInstaller build (issue 18).
TARGET_SIZE_RATIO = 0.5
MB = 1024 * 1024
#: ``ramparts build``'s lines for each rule of the backend's pruning.
PRUNED = re.compile(r"^ +pruned +(\S+): .* in (\d+) files \((\d+) bytes\)", re.MULTILINE)
LEFT_OUT = re.compile(r"^ +left out (\S+): (.+) \(not collected\)$", re.MULTILINE)


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


def gtk_app(root: Path) -> Path:
    """The Ramparts hello app on the GTK backend."""
    app = ramparts_app(root)
    config = app / "pyproject.toml"
    config.write_text(
        config.read_text().replace("[tool.ramparts]\n", '[tool.ramparts]\nbackend = "gtk"\n')
    )
    return app


def plain_build(root: Path, script: Path, engine: str) -> tuple[list[str], Path]:
    """The plain PyInstaller command for one engine, and the folder it makes."""
    name, dist = f"pywebview_{engine}", root / "dist" / f"pywebview-{engine}"
    extra = ["--exclude-module", "PyQt6", "--exclude-module", "qtpy"] if engine == "gtk" else []
    return [
        *(sys.executable, "-m", "PyInstaller", "--noconfirm", "--onedir", "--name", name),
        *("--distpath", str(dist), "--workpath", str(root / "work" / engine)),
        *("--specpath", str(root / "spec"), "--hidden-import", f"webview.platforms.{engine}"),
        *extra,
        str(script),
    ], dist / name


def exclusions(log: str) -> list[dict[str, Any]]:
    """What one ``ramparts build`` left out, per rule, from its progress lines."""
    rows: list[dict[str, Any]] = [
        {"name": m[1], "modules": m[2], "bytes": None, "files": None}
        for m in LEFT_OUT.finditer(log)
    ]
    rows += [
        {"name": m[1], "modules": None, "bytes": int(m[3]), "files": int(m[2])}
        for m in PRUNED.finditer(log)
    ]
    return rows


def measure(root: Path, rounds: int = 2) -> dict[str, Any]:
    """Build the hello apps ``rounds`` times, alternating; the last round counts."""
    why = unavailable()
    if why is not None:
        return {"available": False, "reason": why}
    root.mkdir(parents=True, exist_ok=True)
    script = root / "pywebview_hello.py"
    script.write_text(PYWEBVIEW_APP)
    apps = {"qt": ramparts_app(root / "hello"), "gtk": gtk_app(root / "hello-gtk")}
    builds: dict[str, tuple[list[str], Path, list[Path]]] = {}
    for engine, app in apps.items():
        cmd, artifact = plain_build(root, script, engine)
        builds[f"pywebview-{engine}"] = (cmd, artifact, [root / "work" / engine, artifact])
        out = root / "dist" / f"ramparts-{engine}"
        cmd = [sys.executable, "-m", "ramparts", "build", str(app), "--out", str(out)]
        builds[f"ramparts-{engine}"] = (cmd, out / "hellobench", [app / "build", out])
    # Each build starts clean (no work folder, no output), so neither reuses its own
    # previous analysis; PyInstaller's shared cache stays warm after the first round.
    seconds: dict[str, list[float]] = {name: [] for name in builds}
    for i in range(rounds):
        for name, (cmd, _, leftovers) in builds.items():
            print(f"  build: {name}, round {i + 1}/{rounds} ...", flush=True)
            for path in leftovers:
                shutil.rmtree(path, ignore_errors=True)
            seconds[name].append(timed_build(cmd, root / f"{name}-{i}.log"))
    result: dict[str, Any] = {"available": True, "rounds": rounds}
    for engine in apps:
        row: dict[str, Any] = {}
        for kind in ("pywebview", "ramparts"):
            name = f"{kind}-{engine}"
            row[kind] = {
                "seconds": seconds[name][-1],
                "seconds_rounds": seconds[name],
                "size_mb": tree_size(builds[name][1]) / MB,
            }
        row["size_ratio"] = row["ramparts"]["size_mb"] / row["pywebview"]["size_mb"]
        row["time_ratio"] = row["ramparts"]["seconds"] / row["pywebview"]["seconds"]
        log = (root / f"ramparts-{engine}-{rounds - 1}.log").read_text(errors="replace")
        row["left_out"] = exclusions(log)
        result[engine] = row
    # The Qt row's figures at the top level too: the shape run_all.py reads.
    result.update({k: result["qt"][k] for k in ("pywebview", "ramparts", "size_ratio")})
    result["time_ratio"] = result["qt"]["time_ratio"]
    result["target_size_ratio"] = TARGET_SIZE_RATIO
    return result


def print_result(result: dict[str, Any]) -> None:
    for engine in ("qt", "gtk"):
        row = result[engine]
        for kind in ("pywebview", "ramparts"):
            r = row[kind]
            print(f"{engine:4} {kind:10} {r['size_mb']:8.1f} MB {r['seconds']:8.1f} s")
        print(
            f"{engine:4} size ratio x{row['size_ratio']:.3f}, time ratio x{row['time_ratio']:.2f}"
        )
    print(f"target: Qt size ratio <= {TARGET_SIZE_RATIO}")
    print(f"\n{'engine':6} {'left out':22} {'MB':>8} {'files':>6}")
    for engine in ("qt", "gtk"):
        for r in result[engine]["left_out"]:
            size = f"{r['bytes'] / MB:8.1f}" if r["bytes"] is not None else "     n/a"
            files = r["files"] if r["files"] is not None else f"not collected: {r['modules']}"
            print(f"{engine:6} {r['name']:22} {size} {files:>6}")


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
        print_result(result)
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
