"""Bridge benchmark: the Ramparts bridge against pywebview's own ``js_api``, in one run.

    uv run python benchmarks/bridge.py [--quick] [--out FILE] [--rounds N]
                                       [--memory-limit-gb GB]

Rows (each phase of each row in its own process, one webview per process):

* ``pywebview js_api``: a plain pywebview app (``benchmarks/pywebview_echo.py``); the
  large payload is a string, pywebview having no binary transport.
* ``ramparts per-call`` / ``ramparts per-session``: a throwaway Ramparts app with every
  check on (HMAC per message, replay window, origin check), calling the test capability
  ``sample``; the large payload is a ``Uint8Array`` (raw bytes).

The page-side loops live in ``benchmarks/bridge.js``. Results go to
``benchmarks/results/bridge.json``; see ``benchmarks/README.md`` for what they mean.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import psutil

from ramparts.testing import PageError, eval_in_app

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "bridge.json"
MEASURE_JS = HERE / "bridge.js"
PYWEBVIEW_CHILD = HERE / "pywebview_echo.py"
MB = 1024 * 1024
GB = 1024 * MB

#: Seconds a page script may run: generous, a hang is caught by these and a runaway
#: allocation by the memory guard.
TIMEOUT = {"small": 120.0, "big": 300.0}
#: What the targets compare (reported, never asserted).
TARGET_CALLS_RATIO = 1.0
TARGET_BIG_SPEEDUP = 8.0

Phase = Literal["small", "big"]
#: Runs a page script (the body of an async function) in a fresh process; returns its value.
Runner = Callable[[str, float], Any]


class RunError(Exception):
    """A page script failed, timed out, or its process died."""


@dataclass(frozen=True)
class Counts:
    warmup: int
    calls: int
    concurrent: int
    big_bytes: int
    big_warmup: int
    big_repeats: int
    #: Processes per row for the small calls (the big payloads run once per row).
    rounds: int

    def to_js(self) -> dict[str, int]:
        return {
            "warmup": self.warmup,
            "calls": self.calls,
            "concurrent": self.concurrent,
            "bigBytes": self.big_bytes,
            "bigWarmup": self.big_warmup,
            "bigRepeats": self.big_repeats,
        }


FULL = Counts(
    warmup=200,
    calls=2000,
    concurrent=1000,
    big_bytes=10 * MB,
    big_warmup=1,
    big_repeats=3,
    rounds=3,
)
QUICK = Counts(
    warmup=20, calls=200, concurrent=100, big_bytes=1 * MB, big_warmup=0, big_repeats=1, rounds=1
)


@dataclass(frozen=True)
class Transport:
    """One row: how to start a page, and which JS functions of bridge.js to measure."""

    name: str
    echo_js: str
    round_trip_js: str
    big_payload: str
    run: Runner


@dataclass
class Row:
    """One line of the table (times in ms); a figure stays ``None`` when its phase failed."""

    name: str
    big_payload: str
    calls_per_s: float | None = None
    calls_per_s_rounds: list[float] = field(default_factory=list)
    p50_ms: float | None = None
    p99_ms: float | None = None
    concurrent_ms: float | None = None
    concurrent_ms_rounds: list[float] = field(default_factory=list)
    big_ms: float | None = None
    big_ms_runs: list[float] = field(default_factory=list)
    big_mb_per_s: float | None = None
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


# --- running page scripts -------------------------------------------------------------


def qt_env() -> dict[str, str]:
    """The same headless Qt set-up for every row (Ramparts would add the flags itself)."""
    env = {
        "QT_QPA_PLATFORM": "offscreen",
        "QTWEBENGINE_CHROMIUM_FLAGS": "--disable-background-networking --disable-component-update",
    }
    if os.name == "posix" and os.geteuid() == 0:
        env["QTWEBENGINE_DISABLE_SANDBOX"] = "1"  # Chromium's sandbox refuses root
    return env


#: Start-up chatter of headless Qt WebEngine, the same in every run: left out of reports.
QT_NOISE = re.compile(
    r"Sandboxing disabled|QRhiGles2|Failed to create RHI|Vulkan|GBM is not supported"
    r"|dbus/bus\.cc|GPUInfo not initialized|^ramparts: "
)


def tail(stderr: str, lines: int = 15) -> str:
    """The end of a process's stderr, without Qt's start-up chatter."""
    kept = [line for line in stderr.strip().splitlines() if not QT_NOISE.search(line)]
    return "\n".join(kept[-lines:]) or "(nothing else on stderr)"


def run_pywebview(script: str, timeout: float) -> Any:
    with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False, encoding="utf-8") as f:
        f.write(script)
    try:
        proc = subprocess.run(
            [sys.executable, str(PYWEBVIEW_CHILD), f.name, str(timeout)],
            capture_output=True,
            text=True,
            timeout=timeout + 60,
            env={**os.environ, **qt_env()},
        )
    finally:
        os.unlink(f.name)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RunError(f"pywebview exited {proc.returncode}\n{tail(proc.stderr)}")
    return json.loads(lines[-1])


def ramparts_runner(app_dir: Path) -> Runner:
    def run(script: str, timeout: float) -> Any:
        try:
            return eval_in_app(app_dir, script, timeout=timeout, env=qt_env())
        except PageError as e:
            raise RunError(f"ramparts dev exited {e.returncode}\n{tail(e.stderr)}") from None

    return run


def write_app(root: Path, handles: str) -> Path:
    """A throwaway app: the ``sample`` test capability, a page without inline scripts."""
    app = root / f"bench-{handles}"
    (app / "ui").mkdir(parents=True)
    (app / "ui" / "index.html").write_text(
        '<!doctype html>\n<html><head><meta charset="utf-8"><title>Bench</title></head>\n'
        "<body><p>Ramparts bridge benchmark</p></body></html>\n",
        encoding="utf-8",
    )
    (app / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "benchapp"
            version = "0.1.0"

            [tool.ramparts]
            name = "Bench"
            identifier = "dev.ramparts.bench"

            [tool.ramparts.security]
            handles = "{handles}"

            [tool.ramparts.capabilities.sample]
            allow = ["echo", "echo_bytes"]
            words = []
            """
        ),
        encoding="utf-8",
    )
    return app


class MemoryGuard:
    """Watches every process this benchmark started (children, grandchildren).

    Records the peak total RSS and kills, by pid, any single process above ``limit``
    bytes, so that a runaway allocation in a measured app cannot take the machine down.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.peak = 0
        self.killed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.05):
            total = 0
            for proc in me.children(recursive=True):
                try:
                    rss = proc.memory_info().rss
                    total += rss
                    if rss > self.limit:
                        name = proc.name()
                        proc.kill()
                        self.killed.append(f"{name} (pid {proc.pid}) at {rss / GB:.1f} GB RSS")
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)

    def __enter__(self) -> MemoryGuard:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- measuring --------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize_small(row: Row, samples: list[dict[str, Any]], counts: Counts) -> None:
    """Median over rounds for the rates; percentiles over every call of every round."""
    if not samples:
        return
    row.calls_per_s_rounds = [counts.calls / (s["sequentialMs"] / 1000) for s in samples]
    row.calls_per_s = statistics.median(row.calls_per_s_rounds)
    latencies = sorted(ms for s in samples for ms in s["latencies"])
    row.p50_ms = percentile(latencies, 50)
    row.p99_ms = percentile(latencies, 99)
    row.concurrent_ms_rounds = [s["concurrentMs"] for s in samples]
    row.concurrent_ms = statistics.median(row.concurrent_ms_rounds)


def summarize_big(row: Row, big: dict[str, Any], counts: Counts) -> None:
    row.big_ms_runs = big["ms"]
    row.big_ms = statistics.median(big["ms"])
    row.big_mb_per_s = counts.big_bytes / MB / (row.big_ms / 1000)


@dataclass(frozen=True)
class Bench:
    counts: Counts
    memory_limit: int

    def script(self, call: str) -> str:
        """bridge.js with the counts filled in, then ``return await CALL``."""
        js = MEASURE_JS.read_text(encoding="utf-8")
        return js.replace("__COUNTS__", json.dumps(self.counts.to_js())) + (
            f"\nreturn await {call};\n"
        )

    def run(self, transport: Transport, row: Row, phase: Phase, label: str, call: str) -> Any:
        """Run one page script in a fresh process under the memory guard.

        Returns the script's value, or ``None`` once the failure is in ``row.errors``.
        """
        print(f"  {row.name}: {label} ...", flush=True)
        value = None
        with MemoryGuard(self.memory_limit) as guard:
            try:
                value = transport.run(self.script(call), TIMEOUT[phase])
            except (RunError, subprocess.TimeoutExpired) as e:
                killed = "; ".join(guard.killed)
                why = f"killed by the memory guard: {killed}\n" if killed else ""
                row.errors[label] = why + str(e)
        peak = round(guard.peak / MB, 1)
        row.peak_rss_mb[phase] = max(row.peak_rss_mb.get(phase, 0.0), peak)
        return value

    def measure(self, transports: list[Transport]) -> list[Row]:
        counts = self.counts
        rows = [Row(t.name, t.big_payload) for t in transports]
        samples: list[list[dict[str, Any]]] = [[] for _ in transports]
        for i in range(counts.rounds):
            # Rows take turns, so that a busy moment on the machine hits all of them.
            label = f"small calls, round {i + 1}/{counts.rounds}"
            for t, row, got in zip(transports, rows, samples, strict=True):
                value = self.run(t, row, "small", label, f"smallPhase({t.echo_js})")
                if value is not None:
                    got.append(value)
        label = f"{counts.big_bytes // MB} MB round trips"
        for t, row, got in zip(transports, rows, samples, strict=True):
            summarize_small(row, got, counts)
            big = self.run(t, row, "big", label, f"bigPhase({t.round_trip_js})")
            if big is not None:
                summarize_big(row, big, counts)
        return rows


def ratios(baseline: Row, row: Row) -> dict[str, Any]:
    calls = (
        row.calls_per_s / baseline.calls_per_s if row.calls_per_s and baseline.calls_per_s else None
    )
    speedup = baseline.big_ms / row.big_ms if row.big_ms and baseline.big_ms else None
    return {
        "calls_per_s_ratio": calls,
        "big_speedup": speedup,
        "target_calls": verdict(calls, TARGET_CALLS_RATIO),
        "target_big": verdict(speedup, TARGET_BIG_SPEEDUP),
    }


def verdict(value: float | None, target: float) -> str:
    if value is None:
        return "not measured"
    return "met" if value >= target else "missed"


# --- the machine ------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    from PyQt6.QtCore import PYQT_VERSION_STR, qVersion
    from PyQt6.QtWebEngineCore import qWebEngineChromiumVersion, qWebEngineVersion

    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(affinity) if affinity is not None else os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / GB, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "qt": qVersion(),
        "pyqt": PYQT_VERSION_STR,
        "qt_webengine": qWebEngineVersion(),
        "chromium": qWebEngineChromiumVersion(),
        "pywebview": version("pywebview"),
        "ramparts": version("ramparts"),
    }


# --- output -----------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 1, prefix: str = "") -> str:
    return "failed" if value is None else f"{prefix}{value:,.{digits}f}"


def table(rows: list[Row], counts: Counts) -> str:
    big = f"{counts.big_bytes // MB} MB round trip ms"
    headers = ["", "calls/s", "p50 ms", "p99 ms", f"{counts.concurrent} concurrent ms", big]
    cells = [
        [
            r.name,
            fmt(r.calls_per_s, 0),
            fmt(r.p50_ms, 2),
            fmt(r.p99_ms, 2),
            fmt(r.concurrent_ms),
            fmt(r.big_ms),
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [headers, *cells]) for i in range(len(headers))]

    def line(values: list[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = (v.rjust(w) for v, w in zip(values[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    rule = "-" * len(line(headers))
    return "\n".join([line(headers), rule, *(line(c) for c in cells)])


def report(result: dict[str, Any], rows: list[Row], counts: Counts) -> str:
    out = [table(rows, counts), ""]
    baseline = rows[0].name
    for name, r in result["ratios"].items():
        calls, speedup = r["calls_per_s_ratio"], r["big_speedup"]
        out.append(
            f"{name} vs {baseline}: calls/s {fmt(calls, 2, 'x')} "
            f"(target >= {TARGET_CALLS_RATIO:g}: {r['target_calls']}), "
            f"{counts.big_bytes // MB} MB speed-up {fmt(speedup, 2, 'x')} "
            f"(target >= {TARGET_BIG_SPEEDUP:g}: {r['target_big']})"
        )
    for row in rows:
        for phase, error in row.errors.items():
            out += ["", f"{row.name} ({phase}) FAILED:", textwrap.indent(error, "    ")]
    m = result["machine"]
    out += [
        "",
        f"machine: {m['cpu']}, {m['usable_cpus']}/{m['logical_cpus']} CPUs usable, "
        f"{m['memory_gb']} GB RAM, {m['os']}",
        f"         Python {m['python']}, Qt {m['qt']} (PyQt {m['pyqt']}), "
        f"Qt WebEngine {m['qt_webengine']} (Chromium {m['chromium']}), "
        f"pywebview {m['pywebview']}, ramparts {m['ramparts']}",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the Ramparts bridge against pywebview.")
    parser.add_argument("--quick", action="store_true", help="smaller counts: a smoke run")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument("--rounds", type=int, help="small-call processes per row (3; quick 1)")
    parser.add_argument(
        "--memory-limit-gb",
        type=float,
        default=4.0,
        help="kill a measured process whose RSS passes this (default 4)",
    )
    args = parser.parse_args(argv)
    counts = QUICK if args.quick else FULL
    if args.rounds:
        counts = dataclasses.replace(counts, rounds=args.rounds)
    limit = int(args.memory_limit_gb * GB)

    with tempfile.TemporaryDirectory(prefix="ramparts-bench-") as tmp:
        transports = [
            Transport(
                "pywebview js_api", "pywebviewEcho", "pywebviewRoundTrip", "str", run_pywebview
            ),
            *(
                Transport(
                    f"ramparts {handles}",
                    "rampartsEcho",
                    "rampartsRoundTrip",
                    "Uint8Array",
                    ramparts_runner(write_app(Path(tmp), handles)),
                )
                for handles in ("per-call", "per-session")
            ),
        ]
        print(f"measuring ({'quick' if args.quick else 'full'} run) ...", flush=True)
        rows = Bench(counts, limit).measure(transports)

    baseline, *others = rows
    result: dict[str, Any] = {
        "generated": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "counts": asdict(counts),
        "machine": machine(),
        "baseline": baseline.name,
        "rows": [asdict(r) for r in rows],
        "ratios": {r.name: ratios(baseline, r) for r in others},
        "targets": {"calls_per_s_ratio": TARGET_CALLS_RATIO, "big_speedup": TARGET_BIG_SPEEDUP},
    }
    print()
    print(report(result, rows, counts))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults: {args.out}")
    return 1 if any(r.errors for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
