"""Interleaved A/B of two source trees of the core on the bridge's page loops.

    uv run python benchmarks/ab.py BEFORE_SRC AFTER_SRC [--pairs 6] [--engines qt,gtk]
                                   [--phases small,json,big]

``BEFORE_SRC`` and ``AFTER_SRC`` are folders holding a ``ramparts`` package (for example
``git archive OLD core/src | tar -x -C /tmp/old`` gives ``/tmp/old/core/src``); each run
puts one of them first on ``PYTHONPATH``, so the app process imports that tree's core
(the plugins and the rest of the venv are shared). Runs go A, B, A, B ... per phase and
engine, each in a fresh process, and the report gives both medians and the median of
the per-pair ratios (the figure to quote on a shared, noisy machine).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bridge
import engines

#: phase -> (page call, what the figure is, higher is better)
PHASES: dict[str, tuple[str, str, bool]] = {
    "small": ("smallPhase(rampartsEcho)", "small calls/s", True),
    "json": ("jsonPhase(rampartsEcho)", "1 MB JSON echo ms", False),
    "big": ("bigPhase(rampartsRoundTrip)", "10 MB round trip ms", False),
    "events": ("eventsPhase(rampartsBurst)", "events/s", True),
}


def figure(phase: str, value: dict[str, Any], counts: bridge.Counts) -> float:
    if phase == "small":
        return counts.calls / (value["sequentialMs"] / 1000)
    if phase == "events":
        return counts.events / (statistics.median(value["ms"]) / 1000)
    return float(statistics.median(value["ms"]))


def run_pair(
    bench: bridge.Bench, app: Path, env: dict[str, str], trees: list[Path], phase: str
) -> list[float | None]:
    out: list[float | None] = []
    for tree in trees:
        runner = bridge.ramparts_runner(app, {**env, "PYTHONPATH": str(tree)})
        t = bridge.Transport("ab", "rampartsEcho", "rampartsRoundTrip", "", runner, "rampartsBurst")
        row = bridge.Row(f"ab {tree}", "")
        value = bench.run(t, row, phase, phase, PHASES[phase][0])  # type: ignore[arg-type]
        out.append(None if value is None else figure(phase, value, bench.counts))
        for error in row.errors.values():
            print(f"    failed: {error.strip().splitlines()[0]}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--pairs", type=int, default=6)
    ap.add_argument("--engines", default="qt,gtk")
    ap.add_argument("--phases", default="small,json,big")
    args = ap.parse_args(argv)
    trees = [args.before.resolve(), args.after.resolve()]
    for tree in trees:
        if not (tree / "ramparts" / "__init__.py").exists():
            ap.error(f"{tree} holds no ramparts package")
    counts = bridge.FULL
    bench = bridge.Bench(counts, 4 * bridge.GB)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="ramparts-ab-") as tmp, engines.x_display() as display:
        app = bridge.write_app(Path(tmp), "per-call")
        envs = {"qt": bridge.qt_env(), "gtk": {**bridge.qt_env(), **engines.gtk_env(display)}}
        load = os.getloadavg()[0]
        for engine in args.engines.split(","):
            for phase in args.phases.split(","):
                pairs = []
                for i in range(args.pairs):
                    print(f"  {engine} {phase}: pair {i + 1}/{args.pairs} ...", flush=True)
                    pairs.append(run_pair(bench, app, envs[engine], trees, phase))
                results[f"{engine} {phase}"] = summarize(pairs, PHASES[phase][2])
    print(f"\nload average {load:.2f} -> {os.getloadavg()[0]:.2f}; {args.pairs} pairs, A = before")
    print(f"{'':16}{'figure':>22}{'before':>10}{'after':>10}{'after/before':>14}")
    for key, r in results.items():
        label = PHASES[key.split()[1]][1]
        print(f"{key:16}{label:>22}{r['before']:>10.1f}{r['after']:>10.1f}{r['ratio']:>14.2f}")
    print("(after/before: median of per-pair ratios, turned so that above 1 is faster)")
    print(json.dumps(results))
    return 0


def summarize(pairs: list[list[float | None]], higher: bool) -> dict[str, Any]:
    ok = [(a, b) for a, b in pairs if a and b]
    ratios = [(b / a) if higher else (a / b) for a, b in ok]
    return {
        "before": statistics.median(a for a, _ in ok) if ok else float("nan"),
        "after": statistics.median(b for _, b in ok) if ok else float("nan"),
        "ratio": statistics.median(ratios) if ratios else float("nan"),
        "pairs": pairs,
    }


if __name__ == "__main__":
    sys.exit(main())
