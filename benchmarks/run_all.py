"""Every benchmark in one run: Ramparts against PyTauri, plain pywebview and the floor.

    uv run python benchmarks/run_all.py            # full run, about 10-20 minutes
    uv run python benchmarks/run_all.py --quick    # smoke run: small counts, no build
    uv run python benchmarks/run_all.py --skip build,fs

Sections, each measured against its baseline in this same run, the two taking turns:

- **bridge** (``bridge.py``): small calls (calls/s, p50/p99), 1,000 concurrent calls,
  a 1 MB JSON document, 10 MB and 100 MB binary round trips, events/s Python -> page;
  pywebview and Ramparts on Qt and on WebKitGTK, and PyTauri when set up (``--engines``);
- **startup** (``startup.py``): time to the first answered call and peak RSS of the two
  hello apps;
- **imports** (``startup.py``): core import time, modules for one vs four capabilities;
- **fs** (``fs.py``): 100 MiB written and read from page JS against Python itself;
- **build** (``buildsize.py``): built hello app against plain PyInstaller + pywebview.

Writes ``benchmarks/results/all.json`` (every figure and raw run) and ``all.md`` (the
tables and the machine), prints the markdown, and says for each target whether it is
met. Targets are reported, never asserted; the exit status is 1 only if a measurement
failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bridge
import buildsize
import floor
import fs
import startup

HERE = Path(__file__).resolve().parent
SECTIONS = ("bridge", "floor", "startup", "imports", "fs", "build")


@dataclasses.dataclass(frozen=True)
class Plan:
    counts: bridge.Counts
    memory_limit: int
    startup_runs: int
    import_runs: int
    fs_mb: int
    fs_runs: int
    build_rounds: int
    floor_rounds: int
    #: The bridge rows' engines (``bridge.ENGINES``: qt, gtk, pytauri).
    engines: tuple[str, ...] = bridge.ENGINES


# --- running the sections -----------------------------------------------------------------


def run_sections(plan: Plan, skip: set[str]) -> tuple[dict[str, Any], list[bridge.Row]]:
    """Each section's JSON (or its error); the bridge rows for the table."""
    out: dict[str, Any] = {}
    rows: list[bridge.Row] = []

    def section(name: str, fn: Callable[[], dict[str, Any]]) -> None:
        if name in skip:
            out[name] = {"skipped": True}
            return
        print(f"== {name}", flush=True)
        try:
            out[name] = fn()
        except Exception as e:  # reported in the table and the JSON, never hidden
            traceback.print_exc()
            out[name] = {"error": f"{type(e).__name__}: {e}"}

    def run_bridge() -> dict[str, Any]:
        nonlocal rows
        rows, result = bridge.measure(plan.counts, plan.memory_limit, plan.engines)
        return result

    startup.compile_sources()  # every row runs from current bytecode, as an installed app
    with tempfile.TemporaryDirectory(prefix="ramparts-bench-all-") as tmp:
        root = Path(tmp)
        section("bridge", run_bridge)
        section("floor", lambda: floor.measure(plan.floor_rounds, plan.counts.big_bytes))
        section("startup", lambda: startup.measure_startup(root / "startup", plan.startup_runs))
        section("imports", lambda: startup.measure_imports(root / "imports", plan.import_runs))
        section("fs", lambda: fs.measure(plan.fs_mb, plan.fs_runs))
        section("build", lambda: buildsize.measure(root / "build", plan.build_rounds))
    return out, rows


# --- targets ------------------------------------------------------------------------------


def at_least(value: float | None, goal: float) -> bool | None:
    return None if value is None else value >= goal


def at_most(value: float | None, goal: float) -> bool | None:
    return None if value is None else value <= goal


def under(value: float | None, goal: float) -> bool | None:
    return None if value is None else value < goal


#: Issue 19's targets, each a ratio from one run (reported, never asserted).
TARGET_VS_PYTAURI_LARGE = 1.0  # 1 MB JSON echo, 10 MB round trip: at least as fast
TARGET_VS_PYTAURI_CALLS = 1.5  # small calls/s
TARGET_OF_CHANNEL = 0.8  # small calls/s against the bare channel through a worker
TARGET_STARTUP_VS_PYTAURI = 1.0  # start-up to first answered call, no slower
TARGET_RSS_VS_PYTAURI = 1.1  # peak RSS at start-up, GTK backend
TARGET_OF_SCHEME = 0.8  # fs 100 MiB against the bare scheme's rate
TARGET_OWN_IMPORT_MS = 10.0  # Ramparts' own modules in `import ramparts.app`
QT_ROW, GTK_ROW = "ramparts per-call", "ramparts per-call gtk"

#: (target, measured value, shown, goal, met, bound): a line of the targets table.
Target = tuple[str, float | None, str, str, bool | None, float | None]


def by_name(res: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in res.get("bridge", {}).get("rows", [])}


def bridge_targets(res: dict[str, Any], counts: bridge.Counts) -> list[Target]:
    """The bridge rows against PyTauri (both engines) and the small calls against the floor."""
    rows, fl = by_name(res), res.get("floor", {})
    peer = rows.get(bridge.PYTAURI_ROW, {})
    json_label = bridge.size_label(counts.json_bytes)
    big_label = f"{counts.big_bytes // bridge.MB} MB"
    # What one bare transfer costs (Qt's floor): the scheme round trip per byte, the channel.
    scheme_ms = fl.get("scheme_round_trip_ms")
    per_byte = scheme_ms / fl["big_bytes"] if scheme_ms and fl.get("big_bytes") else None
    channel = 1e6 / fl["channel-worker_us"] if fl.get("channel-worker_us") else None
    out: list[Target] = []
    for engine, name in (("Qt", QT_ROW), ("GTK", GTK_ROW)):
        row = rows.get(name, {})
        for label, attr, size in (
            (f"{json_label} JSON echo", "json_ms", counts.json_bytes),
            (f"{big_label} round trip", "big_ms", counts.big_bytes),
        ):
            value = bridge.ratio(peer.get(attr), row.get(attr))
            bound = bridge.ratio(peer.get(attr), per_byte * size) if per_byte else None
            out.append(
                (
                    f"{label} vs PyTauri, {engine} (speed-up)",
                    value,
                    fx(value),
                    f">= {TARGET_VS_PYTAURI_LARGE:g}x",
                    at_least(value, TARGET_VS_PYTAURI_LARGE),
                    bound if engine == "Qt" else None,
                )
            )
        calls = bridge.paired(row.get("calls_per_s_rounds", []), peer.get("calls_per_s_rounds", []))
        bound = bridge.ratio(channel, peer.get("calls_per_s")) if engine == "Qt" else None
        out.append(
            (
                f"small calls/s vs PyTauri, {engine}",
                calls,
                fx(calls),
                f">= {TARGET_VS_PYTAURI_CALLS:g}x",
                at_least(calls, TARGET_VS_PYTAURI_CALLS),
                bound,
            )
        )
    share = bridge.ratio(rows.get(QT_ROW, {}).get("calls_per_s"), channel)
    out.append(
        (
            "small calls/s vs the bare channel through a worker, Qt",
            share,
            pct(share),
            f">= {TARGET_OF_CHANNEL:.0%}",
            at_least(share, TARGET_OF_CHANNEL),
            1.0 if share is not None else None,
        )
    )
    return out


def startup_targets(res: dict[str, Any]) -> list[Target]:
    st = res.get("startup", {})
    out: list[Target] = []
    for engine, suffix in (("Qt", ""), ("GTK", "_gtk")):
        value = st.get(f"startup_ratio{suffix}_vs_pytauri")
        out.append(
            (
                f"start-up to first answered call vs PyTauri, {engine} (time ratio)",
                value,
                fx(value),
                f"<= {TARGET_STARTUP_VS_PYTAURI:g}x",
                at_most(value, TARGET_STARTUP_VS_PYTAURI),
                None,
            )
        )
    for engine, suffix, judged in (("GTK", "_gtk", True), ("Qt", "", False)):
        value = st.get(f"rss_ratio{suffix}_vs_pytauri")
        goal = f"<= {TARGET_RSS_VS_PYTAURI:g}x" if judged else "reported"
        met = at_most(value, TARGET_RSS_VS_PYTAURI) if judged else None
        out.append(
            (f"peak RSS at start-up vs PyTauri, {engine}", value, fx(value), goal, met, None)
        )
    return out


def other_targets(res: dict[str, Any]) -> list[Target]:
    """fs against the bare scheme, Ramparts' own import time, the build size."""
    fsr, fl, imp = res.get("fs", {}), res.get("floor", {}), res.get("imports", {})
    mib = fl.get("big_bytes", 0) / bridge.MB
    out: list[Target] = []
    for op, phase in (("write_bytes", "scheme_up_ms"), ("read_bytes", "scheme_down_ms")):
        rate = fsr.get("rows", {}).get(op.split("_")[0], {}).get("bridge_mb_s")
        bare = mib / (fl[phase] / 1000) if fl.get(phase) else None
        share = bridge.ratio(rate, bare)
        mb = f" {fsr['mb']} MiB" if "mb" in fsr else ""
        out.append(
            (
                f"fs {op}{mb} vs the bare scheme's rate, Qt",
                share,
                pct(share),
                f">= {TARGET_OF_SCHEME:.0%}",
                at_least(share, TARGET_OF_SCHEME),
                None,
            )
        )
    own = imp.get("core_import_own_modules_ms")
    out.append(
        (
            "Ramparts' own modules in `import ramparts.app`",
            own,
            fms(own, 1),
            f"< {TARGET_OWN_IMPORT_MS:g} ms",
            under(own, TARGET_OWN_IMPORT_MS),
            None,
        )
    )
    size = res.get("build", {}).get("size_ratio")
    shown = fx(size, 3) if size is not None else res.get("build", {}).get("reason", "n/a")
    out.append(
        (
            "built app size vs plain PyInstaller + pywebview, Qt",
            size,
            shown,
            f"<= {buildsize.TARGET_SIZE_RATIO}x",
            at_most(size, buildsize.TARGET_SIZE_RATIO),
            None,
        )
    )
    return out


def targets(res: dict[str, Any], counts: bridge.Counts) -> list[dict[str, Any]]:
    """One line per target: what was measured, the goal, met/missed/not measured, bound."""
    lines = [*bridge_targets(res, counts), *startup_targets(res), *other_targets(res)]
    return [
        {
            "target": name,
            "value": value,
            "shown": shown,
            "goal": goal,
            "verdict": "not measured" if value is None else verdict(met),
            "bound": bound,
        }
        for name, value, shown, goal, met, bound in lines
    ]


def verdict(met: bool | None) -> str:
    return "reported" if met is None else "met" if met else "missed"


# --- the markdown report ------------------------------------------------------------------


def fx(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"x{value:.{digits}f}"


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def fms(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f} ms"


def num(value: float | None, digits: int = 1) -> str:
    return "failed" if value is None else f"{value:,.{digits}f}"


def md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


#: The ratio columns of the bridge table: (ours, theirs), when both rows ran.
BRIDGE_PAIRS = (
    (QT_ROW, "pywebview js_api"),
    (GTK_ROW, "pywebview js_api gtk"),
    (QT_ROW, bridge.PYTAURI_ROW),
    (GTK_ROW, bridge.PYTAURI_ROW),
)


def bridge_md(res: dict[str, Any], rows: list[bridge.Row], counts: bridge.Counts) -> list[str]:
    if not rows:
        return [why_not(res)]
    mb = bridge.MB
    metrics: list[tuple[str, str, int, bool]] = [
        # label, Row field, digits, higher is better
        ("sequential small calls/s", "calls_per_s", 0, True),
        ("p50 latency ms", "p50_ms", 2, False),
        ("p99 latency ms", "p99_ms", 2, False),
        (f"{counts.concurrent:,} concurrent calls ms", "concurrent_ms", 1, False),
        (f"{bridge.size_label(counts.json_bytes)} JSON echo ms", "json_ms", 1, False),
        (f"{counts.big_bytes // mb} MB round trip ms", "big_ms", 1, False),
        (f"{counts.huge_bytes // mb} MB round trip ms", "huge_ms", 0, False),
        (f"events/s Python -> page ({counts.events:,})", "events_per_s", 0, True),
    ]
    named = {r.name: r for r in rows}
    pairs = [(named[o], named[t]) for o, t in BRIDGE_PAIRS if o in named and t in named]
    headers = ["", *(r.name for r in rows), *(f"{o.name} vs {t.name}" for o, t in pairs)]
    table = []
    for label, attr, digits, higher in metrics:
        small = attr in ("calls_per_s", "p50_ms", "p99_ms", "concurrent_ms")
        cells = ["-" if r.small_only and not small else num(getattr(r, attr), digits) for r in rows]
        for ours, theirs in pairs:
            a, b = getattr(ours, attr), getattr(theirs, attr)
            rel = bridge.ratio(a, b) if higher else bridge.ratio(b, a)
            if attr == "calls_per_s":  # paired by round, as the targets use it
                rel = bridge.paired(ours.calls_per_s_rounds, theirs.calls_per_s_rounds)
            cells.append(fx(rel))
        table.append([label, *cells])
    out = md_table(headers, table)
    out.append("")
    out.append(
        "Ratios: rates are ours ÷ theirs; times are theirs ÷ ours (above 1: Ramparts is "
        "faster). The calls/s ratio is the median of the per-round ratios (the rows take "
        "turns in each round); the other figures are medians. The large payloads are "
        "`Uint8Array` for Ramparts and PyTauri, strings for pywebview (it has no binary "
        "transport). WebKitGTK's `performance.now()` ticks in whole milliseconds, so its "
        "rows' p50/p99 are coarse."
    )
    for name, why in res.get("not_run", {}).items():
        out.append(f"- **{name}** rows not run: {why}")
    for r in rows:
        for phase, error in r.errors.items():
            first = error.strip().splitlines()[0] if error.strip() else "failed"
            out.append(f"- **{r.name}**, {phase}: failed: {first}")
    return out


def why_not(res: dict[str, Any]) -> str:
    if res.get("skipped"):
        return "_skipped_"
    if "error" in res:
        return f"_failed: {res['error']}_"
    return f"_not available: {res.get('reason', 'unknown')}_"


def startup_md(st: dict[str, Any], imp: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if "pywebview" in st:
        names = [n for n in startup.HELLO_APPS if n in st]
        ratios = [(k, f"{o} ÷ {t}") for k, o, t in startup.STARTUP_RATIOS if k in st]
        table = []
        for label, key, prefix in (
            ("first answered call ms", "first_call_ms", "startup_"),
            ("peak RSS of the process tree MB", "peak_rss_mb", "rss_"),
        ):
            cells = [num(st[n][key], 0) for n in names]
            keys = [k.replace("startup_", prefix) for k, _ in ratios]
            table.append([label, *cells, *(fx(st.get(k)) for k in keys)])
        out += md_table(["", *names, *(title for _, title in ratios)], table)
        out.append("")
        out.append(
            f"Medians of {len(st['pywebview']['samples'])} runs of each, the apps taking "
            "turns; the ratios are the medians of the per-run ratios (paired by run). "
            "`ramparts` is the hello app through the Python API, `ramparts dev` through the "
            "command line; `gtk` names the WebKitGTK runs."
        )
        out += [f"- **{n}** not run: {why}" for n, why in st.get("not_run", {}).items()]
    else:
        out.append(why_not(st))
    out.append("")
    if "core_import_ms" in imp:
        out += md_table(
            ["", "value"],
            [
                ["core import, `import ramparts.app` (median)", fms(imp["core_import_ms"], 0)],
                ["core import (minimum)", fms(imp["core_import_min_ms"], 0)],
                [
                    "of which Ramparts' own modules (self time)",
                    fms(imp.get("core_import_own_modules_ms"), 0),
                ],
                [
                    "floor: `import attrs, pluggy` alone",
                    fms(imp.get("core_import_attrs_pluggy_ms"), 0),
                ],
                ["modules loaded, app with 1 capability (fs)", str(imp["modules_one_capability"])],
                [
                    "modules loaded, app with 4 (fs, shell, http, dialog)",
                    str(imp["modules_four_capabilities"]),
                ],
            ],
        )
    else:
        out.append(why_not(imp))
    return out


def fs_md(res: dict[str, Any]) -> list[str]:
    if "rows" not in res:
        return [why_not(res)]
    table = [
        [
            op,
            num(r["bridge_mb_s"]),
            num(r["python_mb_s"]),
            f"{r['share']:.1%}",
            "met" if r["share"] >= fs.TARGET_SHARE else "missed",
        ]
        for op, r in res["rows"].items()
    ]
    return [
        *md_table(
            ["", "bridge MB/s", "Python MB/s", "share", f"target >= {fs.TARGET_SHARE:.0%}"], table
        ),
        "",
        f"{res['mb']} MiB, median of {res['runs']} runs (page process, then Python).",
    ]


def build_md(res: dict[str, Any]) -> list[str]:
    if not res.get("available"):
        return [why_not(res)]
    p, r = res["pywebview"], res["ramparts"]
    return md_table(
        ["", "PyInstaller + pywebview", "ramparts build", "ratio"],
        [
            ["size MB (onedir)", num(p["size_mb"]), num(r["size_mb"]), fx(res["size_ratio"], 3)],
            ["build time s", num(p["seconds"]), num(r["seconds"]), fx(res["time_ratio"])],
        ],
    )


def bound_md(t: dict[str, Any]) -> str:
    """The bound beside a miss (a met target needs none)."""
    b = t.get("bound")
    if b is None or t["verdict"] != "missed":
        return "-"
    return pct(b) if t["shown"].endswith("%") else fx(b)


def floor_md(res: dict[str, Any]) -> list[str]:
    if "channel-worker_us" not in res:
        return [why_not(res)]
    return [
        *floor.report(res),
        "",
        f"Medians over {res['rounds']} processes per mode; {res['calls']:,} sequential "
        f"150-character messages per channel process; {floor.BIG_RUNS} transfers after 1 "
        "warm-up per scheme phase and process, all pooled.",
    ]


def machine_md(m: dict[str, Any]) -> str:
    return (
        f"{m['cpu']}, {m['usable_cpus']} of {m['logical_cpus']} CPUs usable, "
        f"{m['memory_gb']} GB RAM, {m['os']}; Python {m['python']}, Qt {m['qt']}, "
        f"PyQt6 {m['pyqt']}, Qt WebEngine {m['qt_webengine']} (Chromium {m['chromium']}), "
        f"pywebview {m['pywebview']}, ramparts {m['ramparts']}"
    )


def report(result: dict[str, Any], rows: list[bridge.Row], counts: bridge.Counts) -> str:
    res = result["sections"]
    out = [
        f"# Ramparts against PyTauri, plain pywebview and the bare transport "
        f"({result['generated']})",
        "",
        f"Machine: {machine_md(result['machine'])}.",
        "",
        "Every figure comes from this one run; the rows took turns (each round, each "
        "phase). Other work on the machine adds noise: compare ratios, and see the raw "
        f"runs in all.json. Load average at the start and end: {result.get('load', 'n/a')}.",
        "",
        "## Targets",
        "",
        *md_table(
            ["target", "measured", "goal", "verdict", "bound by the bare transport"],
            [
                [t["target"], t["shown"], t["goal"], t["verdict"], bound_md(t)]
                for t in result["targets"]
            ],
        ),
        "",
        "Issue 19's targets. The last column, beside a miss, is the best the ratio could be "
        "if every Ramparts check, copy and thread hop cost nothing, from Qt WebEngine's "
        "bare transport (`floor.py`, same run): small calls at one bare channel round trip "
        "through a worker each (against PyTauri's median calls/s), the large payloads at "
        "the bare scheme's round-trip rate per byte (10 MiB measured; the 1 MB JSON bound "
        "is that rate scaled, so it leaves out JSON entirely); the floor's own targets "
        "are shares of it (bound 100%). WebKitGTK has no bare-transport measurement here, "
        "so the GTK rows have no bound.",
        "",
        "## Bare transport (`floor.py`)",
        "",
        *floor_md(res.get("floor", {})),
        "",
        "## Bridge",
        "",
        *bridge_md(res.get("bridge", {}), rows, counts),
        "",
        "## Start-up, memory and imports",
        "",
        *startup_md(res.get("startup", {}), res.get("imports", {})),
        "",
        "## fs: files from page JS against Python",
        "",
        *fs_md(res.get("fs", {})),
        "",
        "## Build",
        "",
        *build_md(res.get("build", {})),
        "",
    ]
    return "\n".join(out)


# --- main -------------------------------------------------------------------------------


def arguments() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small counts, no build: a smoke run")
    ap.add_argument("--rounds", type=int, help="small-call processes per bridge row (5)")
    ap.add_argument("--startup-runs", type=int, help="processes per hello app (9)")
    ap.add_argument("--fs-mb", type=int, help="file size for the fs section (100)")
    ap.add_argument("--fs-runs", type=int, help="runs of the fs section (3)")
    ap.add_argument("--skip", default="", help=f"comma-separated sections of {SECTIONS}")
    ap.add_argument(
        "--memory-limit-gb",
        type=float,
        default=4.0,
        help="kill a measured process whose RSS passes this (default 4)",
    )
    ap.add_argument(
        "--engines",
        default=",".join(bridge.ENGINES),
        help="bridge rows to run, comma-separated (qt,gtk,pytauri: all by default)",
    )
    ap.add_argument("--out-dir", type=Path, default=HERE / "results")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = arguments()
    args = ap.parse_args(argv)
    wanted = bridge.parse_engines(ap, args.engines)
    skip = {s for s in args.skip.split(",") if s}
    if skip - set(SECTIONS):
        ap.error(f"unknown section(s): {', '.join(sorted(skip - set(SECTIONS)))}")
    counts = bridge.QUICK if args.quick else bridge.FULL
    if args.rounds:
        counts = dataclasses.replace(counts, rounds=args.rounds)
    if args.quick:
        skip.add("build")
    plan = Plan(
        counts=counts,
        memory_limit=int(args.memory_limit_gb * bridge.GB),
        startup_runs=args.startup_runs or (1 if args.quick else 9),
        import_runs=3 if args.quick else 7,
        fs_mb=args.fs_mb or (10 if args.quick else 100),
        fs_runs=args.fs_runs or (1 if args.quick else 3),
        build_rounds=2,
        floor_rounds=1 if args.quick else 3,
        engines=wanted,
    )
    load_before = os.getloadavg()[0]
    print(
        f"measuring ({'quick' if args.quick else 'full'} run; skipping "
        f"{', '.join(sorted(skip)) or 'nothing'}) ...",
        flush=True,
    )
    sections, rows = run_sections(plan, skip)
    result: dict[str, Any] = {
        "generated": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "plan": dataclasses.asdict(plan),
        "machine": bridge.machine(),
        "load": f"{load_before:.2f} -> {os.getloadavg()[0]:.2f}",
        "sections": sections,
    }
    result["targets"] = targets(sections, counts)
    text = report(result, rows, counts)
    print()
    print(text)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "all.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (args.out_dir / "all.md").write_text(text, encoding="utf-8")
    print(f"results: {args.out_dir / 'all.json'}, {args.out_dir / 'all.md'}")
    failed = any("error" in s for s in sections.values()) or any(r.errors for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
