"""fs through the bridge against Python on the same file, in one run.

    uv run python benchmarks/fs.py [--mb 100] [--runs 3] [--out FILE]

The page writes a file of ``--mb`` MiB with ``fs.write_bytes`` (atomic: temp file,
fsync, rename) and reads it back with ``fs.read_bytes``; Python then does the same
directly (write + fsync + rename, and ``read_bytes``) on the same machine. Each run is
a fresh page process followed by the Python baseline, so drift hits both alike. Prints MB/s
and the bridge's share of Python's throughput; writes JSON (default
``benchmarks/results/fs.json``). Target from the fs issue: at least 25% of Python's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bridge import machine, write_json  # the same machine description as bridge.py

from ramparts.testing import eval_in_app

TARGET_SHARE = 0.25


def write_app(root: Path, data_dir: Path, size: int) -> Path:
    (root / "ui").mkdir(parents=True)
    (root / "ui" / "index.html").write_text("<!doctype html><title>fs bench</title>")
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [tool.ramparts]
            name = "fs bench"
            identifier = "dev.ramparts.fsbench"
            [tool.ramparts.capabilities.fs]
            allow = ["write_bytes", "read_bytes"]
            max_read_bytes = {size * 2}
            [tool.ramparts.capabilities.fs.scope]
            allow = ["{data_dir}/**"]
            """
        )
    )
    return root


def page_script(path: Path, size: int) -> str:
    """One write then one read of ``size`` bytes from the page; their milliseconds."""
    return f"""
    const path = {json.dumps(str(path))};
    const data = new Uint8Array({size});
    for (let i = 0; i < data.length; i += 4096) data[i] = i & 255;
    let t0 = performance.now();
    await ramparts.fs.write_bytes({{ path, data }});
    const write = performance.now() - t0;
    t0 = performance.now();
    const back = await ramparts.fs.read_bytes({{ path }});
    const read = performance.now() - t0;
    if (back.length !== data.length || back[4096] !== data[4096]) throw new Error("bad read");
    return {{ write, read }};
    """


def python_baseline(path: Path, size: int) -> dict[str, float]:
    """The same write (temp file, fsync, rename) and read, in Python; milliseconds."""
    data = bytearray(size)
    data[::4096] = bytes(i & 255 for i in range(0, size, 4096))
    t0 = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    write = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    back = path.read_bytes()
    read = (time.perf_counter() - t0) * 1000
    assert len(back) == size
    return {"write": write, "read": read}


def measure(mb: int, runs: int) -> dict[str, Any]:
    """``runs`` rounds, each a page process (write + read) then Python on the same size."""
    size = mb * 1024 * 1024
    page: dict[str, list[float]] = {"write": [], "read": []}
    py: dict[str, list[float]] = {"write": [], "read": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data_dir = root / "data"
        data_dir.mkdir()
        app = write_app(root / "app", data_dir, size)
        for _ in range(runs):  # alternate, so drift hits both alike
            got = eval_in_app(app, page_script(data_dir / "bridge.bin", size), timeout=600)
            mine = python_baseline(data_dir / "python.bin", size)
            for op in ("write", "read"):
                page[op].append(got[op])
                py[op].append(mine[op])
    rows: dict[str, Any] = {}
    for op in ("write", "read"):
        b, p = statistics.median(page[op]), statistics.median(py[op])
        rows[op] = {
            "bridge_ms": b,
            "python_ms": p,
            "bridge_mb_s": mb / (b / 1000),
            "python_mb_s": mb / (p / 1000),
            "share": p / b,
            "runs_bridge_ms": page[op],
            "runs_python_ms": py[op],
        }
    return {"mb": mb, "runs": runs, "rows": rows, "target_share": TARGET_SHARE}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "fs.json")
    args = ap.parse_args(argv)
    result = measure(args.mb, args.runs)
    rows = result["rows"]
    print(f"fs through the bridge vs Python, {args.mb} MiB, median of {args.runs} runs")
    print(f"{'':8}{'bridge MB/s':>14}{'python MB/s':>14}{'share':>9}  target >= {TARGET_SHARE:.0%}")
    for op, r in rows.items():
        ok = "met" if r["share"] >= TARGET_SHARE else "missed"
        print(f"{op:8}{r['bridge_mb_s']:>14.1f}{r['python_mb_s']:>14.1f}{r['share']:>9.1%}  {ok}")
    result["machine"] = machine()
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
