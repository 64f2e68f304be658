"""The security report: parts written by each suite, merged into JSON and markdown.

Each test module writes its part (``<dir>/parts/<name>.<engine>.json``, one per engine
it ran on; ``<name>.json`` for what no engine runs, the fuzzer) when it has run, and
the merged ``report.json`` and ``report.md`` are rebuilt from whatever parts exist, so
running one suite alone refreshes only its own figures. ``<dir>`` is
``$RAMPARTS_REPORT_DIR``; without it a plain pytest run (CI) writes to a temporary
directory, outside the source tree. The documented command sets it to
``tests/security/report/``, where ``update_docs.py`` reads it from.
"""

from __future__ import annotations

import getpass
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

#: Where the documented command writes, and ``update_docs.py`` reads by default.
SOURCE_DIR = Path(__file__).parent / "report"
#: The parts that hold attack cases (a list of records with ``id``, ``engine``,
#: ``category``, ``ability``, ``description``, ``expected``, ``status`` and ``reasons``).
CASE_PARTS = ("corpus", "local_process", "engine_powers", "engine_egress")
#: The engines, in the order the report names them.
ENGINES = {"qt": "Qt", "gtk": "GTK"}
#: Whose processes the soak's renderer memory is, per engine.
RENDERERS = {"qt": "Chromium", "gtk": "WebKit"}
#: When the soak samples memory, per engine (a WebKitGTK page cannot force a GC).
SAMPLED = {"qt": "after warm-up and a forced GC", "gtk": "after warm-up (no GC can be forced)"}


def report_dir() -> Path:
    env = os.environ.get("RAMPARTS_REPORT_DIR")
    if env:
        return Path(env)
    return Path(tempfile.gettempdir()) / f"ramparts-security-report-{getpass.getuser()}"


def write_part(name: str, data: Any, engine: str | None = None) -> None:
    """Write one suite's part; ``engine`` names the engine it ran on (each record, or
    the part's one record, says so too)."""
    parts = report_dir() / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    if engine is not None:
        for record in data if isinstance(data, list) else [data]:
            record["engine"] = engine
        name = f"{name}.{engine}"
    part = {"written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "data": data}
    (parts / f"{name}.json").write_text(json.dumps(part, indent=1))
    build(report_dir())


def build(where: Path) -> dict[str, Any]:
    """Merge the parts into report.json and report.md; return the merged report."""
    parts = {p.stem: json.loads(p.read_text()) for p in sorted((where / "parts").glob("*.json"))}
    cases = []
    for name in CASE_PARTS:
        for engine in ENGINES:
            cases.extend(parts.get(f"{name}.{engine}", {}).get("data", []))
    report = {
        "parts": {k: v["written"] for k, v in parts.items()},
        "cases": cases,
        "categories": categories(cases),
        "fuzz": parts.get("fuzz", {}).get("data"),
        "soak": [parts[f"soak.{e}"]["data"] for e in ENGINES if f"soak.{e}" in parts],
    }
    (where / "report.json").write_text(json.dumps(report, indent=1))
    (where / "report.md").write_text(markdown(report))
    return report


def case_record(
    case_id: str, category: str, ability: str, description: str, expected: str, reasons: list[str]
) -> dict[str, Any]:
    """One case's record for a part, blocked when nothing got through (no ``reasons``);
    :func:`write_part` adds the engine."""
    return {
        "id": case_id,
        "category": category,
        "ability": ability,
        "description": description,
        "expected": expected,
        "status": "escaped" if reasons else "blocked",
        "reasons": reasons,
    }


def categories(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Counts of each status per category and engine."""
    by: dict[tuple[str, str], Counter[str]] = {}
    for c in cases:
        by.setdefault((c["category"], c["engine"]), Counter())[c["status"]] += 1
    return [{"category": k, "engine": e, "tried": sum(v.values()), **v} for (k, e), v in by.items()]


def summary_table(report: dict[str, Any]) -> str:
    """The figures table for docs/security.md."""
    from attacks import CATEGORIES

    engines = [e for e in ENGINES if any(c["engine"] == e for c in report["categories"])]
    names = " / ".join(ENGINES[e] for e in engines)
    rows = [
        f"| category | cases tried ({names}) | blocked | known limit | got through / error |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    counts: dict[tuple[str, str], Counter[str]] = {}
    for c in report["categories"]:
        figures = Counter({k: v for k, v in c.items() if isinstance(v, int)})
        figures["bad"] = figures["escaped"] + figures["error"]
        for key in (c["category"], "all"):
            counts.setdefault((key, c["engine"]), Counter()).update(figures)

    def cells(category: str, key: str, bold: bool = False) -> str:
        text = " / ".join(str(counts.get((category, e), Counter())[key]) for e in engines)
        return f"**{text}**" if bold else text

    order = list(CATEGORIES)  # the catalogue's order, not the order launches ran in
    for category in sorted({k for k, _ in counts if k != "all"}, key=order.index):
        rows.append(
            f"| {CATEGORIES.get(category, category)} | {cells(category, 'tried')} | "
            f"{cells(category, 'blocked')} | {cells(category, 'known-limit')} | "
            f"{cells(category, 'bad')} |"
        )
    rows.append(
        f"| **all** | {cells('all', 'tried', True)} | {cells('all', 'blocked', True)} | "
        f"{cells('all', 'known-limit', True)} | {cells('all', 'bad', True)} |"
    )
    lines = ["\n".join(rows), ""]
    fuzz, soak = report.get("fuzz"), report.get("soak")
    if fuzz:
        lines.append(
            f"- Fuzzing ({fuzz_budget(fuzz)}): **{fuzz['executions']:,}** decoder/dispatcher "
            f"executions in {fuzz['targets']} targets, **{fuzz['commands_run']}** commands "
            f"run by unsigned or broken messages; **{fuzz['past_the_mac']:,}** signed "
            f"messages past the MAC, {fuzz['routed']:,} of them reaching the handle lookup, "
            f"and only well-formed calls ({fuzz['canary_runs']:,}) ran the canary; memory "
            f"growth {fuzz['memory_growth_bytes']:,} bytes over {fuzz['memory_messages']:,} "
            "messages."
        )
    for run in soak or []:
        engine, renderer = ENGINES[run["engine"]], RENDERERS[run["engine"]]
        rss, renderer_rss = run["rss_mib"], run["renderer_rss_mib"]
        lines.append(
            f"- Soak ({engine}): **{run['calls']:,}** calls through the real webview with "
            f"per-call handles, {run['batch']:,} at a time ({run['calls_per_second']:,.0f} "
            f"calls/s); lost {run['lost']}, duplicated {run['duplicated']}, misrouted "
            f"{run['misrouted']}; resolvers left {run['pending_after']}. RSS "
            f"{SAMPLED[run['engine']]}: Python {rss[2]:.0f} → {rss[-1]:.0f} MiB, {renderer} "
            f"{renderer_rss[2]:.0f} → {renderer_rss[-1]:.0f} MiB."
        )
        lines.append(
            f"- Concurrency ({engine}): **{run['concurrent']:,}** calls in flight in Python "
            "at once (per-session handles, an async command), all answered correctly."
        )
        lines.append(
            f"- Faults survived ({engine}): **{run['faults_survived']}** "
            f"({', '.join(run['faults'])}), each failing alone with its own error code "
            "while concurrent good calls succeeded."
        )
    lines.append("")
    lines.append(
        "Generated from the last run: "
        + ", ".join(f"{k} {v}" for k, v in report["parts"].items())
        + "."
    )
    return "\n".join(lines)


def fuzz_budget(fuzz: dict[str, Any]) -> str:
    """Which budget produced the fuzz figures: the CI one or a long run."""
    kind = "CI budget" if fuzz["budget"] == "CI" else "long run"
    return f"{kind}: {fuzz['examples_per_target']:,} examples per target"


def markdown(report: dict[str, Any]) -> str:
    out = ["# Ramparts security report", "", summary_table(report), "", "## Cases", ""]
    out.append("| id | engine | category | attacker | status | CSP violations | expected |")
    out.append("| --- | --- | --- | --- | --- | --- | --- |")
    for c in report["cases"]:
        csp = f"{c['csp_violations']} ({', '.join(c['violated'])})" if c.get("violated") else "0"
        out.append(
            f"| `{c['id']}` | {ENGINES[c['engine']]} | {c['category']} | {c['ability']} | "
            f"**{c['status']}** | {csp} | {c['expected']} |"
        )
    bad = [c for c in report["cases"] if c["status"] not in ("blocked", "known-limit")]
    if bad:
        out += ["", "## Failures", ""]
        for c in bad:
            out.append(f"- `{c['id']}` ({ENGINES[c['engine']]}): {'; '.join(c['reasons'])}")
    return "\n".join(out) + "\n"
